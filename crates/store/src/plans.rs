//! Plans as stored: the body, the digest of its content, one pending job per
//! operation and the `plan.created` event (with the digest), all in one
//! transaction, together with the approval request when one is needed.

use grantflow_model::Plan;
use sqlx::{Any, Row, Transaction};

use crate::jobs::JobState;
use crate::{AuditAction, Result, Store, StoreError, audit, timestamp};

/// A plan as read back, with what was recorded when it was stored, so a
/// reader can tell whether the body was edited since.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub plan: Plan,
    /// The digest recorded in the plans table when the plan was stored.
    pub digest: String,
    /// The digest the `plan.created` audit event recorded (the chain
    /// protects it), when there is one.
    pub created_digest: Option<String>,
    /// `reviewed` (never started), `queued` or `finished`.
    pub status: String,
}

impl Store {
    /// Stores a reviewed plan with one pending job per operation.
    pub async fn save_plan(&self, plan: &Plan, actor: &str) -> Result<()> {
        self.save_plan_for_approval(plan, actor, None).await
    }

    /// Stores a plan, and when `approval_reason` is given, marks it as
    /// needing an approval, in the same transaction: a plan is never stored
    /// without the approval it needs.
    pub async fn save_plan_for_approval(
        &self,
        plan: &Plan,
        actor: &str,
        approval_reason: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if self
            .insert_plan(&mut tx, plan, actor, approval_reason)
            .await?
        {
            tx.commit().await?;
        }
        Ok(())
    }

    /// [`Store::save_plan_for_approval`] within `tx`: `false` (and nothing written) when the plan is
    /// stored already.
    pub(crate) async fn insert_plan(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan: &Plan,
        actor: &str,
        approval_reason: Option<&str>,
    ) -> Result<bool> {
        let body = serde_json::to_string(plan).map_err(|source| StoreError::Corrupt {
            what: "plan".into(),
            source,
        })?;
        let digest = plan.digest();
        let exists = sqlx::query("SELECT 1 FROM plans WHERE id = $1")
            .bind(&plan.id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if exists {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO plans (id, created_at, created_ms, origin, body, digest) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&plan.id)
        .bind(timestamp(plan.created_at))
        .bind(plan.created_at.timestamp_millis())
        .bind(&plan.origin)
        .bind(body)
        .bind(&digest)
        .execute(&mut **tx)
        .await?;
        let now = self.now();
        for op in &plan.operations {
            sqlx::query(
                "INSERT INTO jobs (plan_id, op_id, natural_key, state, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&plan.id)
            .bind(i64::from(op.id.0))
            .bind(op.natural_key())
            .bind(JobState::Pending.as_str())
            .bind(timestamp(now))
            .execute(&mut **tx)
            .await?;
            for dependency in &op.depends_on {
                sqlx::query(
                    "INSERT INTO job_deps (plan_id, op_id, depends_on) VALUES ($1, $2, $3)",
                )
                .bind(&plan.id)
                .bind(i64::from(op.id.0))
                .bind(i64::from(dependency.0))
                .execute(&mut **tx)
                .await?;
            }
        }
        audit::append(
            tx,
            self.backend(),
            now,
            actor,
            AuditAction::PlanCreated,
            &plan.id,
            serde_json::json!({
                "origin": plan.origin,
                "digest": digest,
                "basis": plan.basis,
                "operations": plan.operations.iter().map(|op| serde_json::json!({
                    "id": op.id,
                    "change": op.describe(),
                    "natural_key": op.natural_key(),
                    "reasons": op.reasons,
                })).collect::<Vec<_>>(),
            }),
        )
        .await?;
        if let Some(reason) = approval_reason {
            self.insert_approval_request(tx, &plan.id, actor, reason, now)
                .await?;
        }
        Ok(true)
    }

    pub async fn plan(&self, id: &str) -> Result<Plan> {
        Ok(self.stored_plan(id).await?.plan)
    }

    /// The plan with what was recorded when it was stored.
    pub async fn stored_plan(&self, id: &str) -> Result<StoredPlan> {
        let row = sqlx::query("SELECT body, digest, status FROM plans WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::UnknownPlan(id.to_string()))?;
        let body: String = row.try_get("body")?;
        let plan = serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
            what: format!("plan {id}"),
            source,
        })?;
        let created = sqlx::query(
            "SELECT details FROM audit_events WHERE action = 'plan.created' AND subject = $1 ORDER BY seq LIMIT 1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        let created_digest = match created {
            Some(row) => {
                let details: String = row.try_get("details")?;
                serde_json::from_str::<serde_json::Value>(&details)
                    .ok()
                    .and_then(|d| d.get("digest").and_then(|v| v.as_str()).map(str::to_string))
            }
            None => None,
        };
        Ok(StoredPlan {
            plan,
            digest: row.try_get("digest")?,
            created_digest,
            status: row.try_get("status")?,
        })
    }
}
