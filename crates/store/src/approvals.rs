//! Approvals of plans that need one. An approval is of one exact content
//! (the plan's digest when it was approved) and lapses after a while: a plan
//! changed after its approval, or approved too long ago, needs a new one.

use chrono::{DateTime, Utc};
use sqlx::{Any, Row, Transaction};
use std::time::Duration;

use crate::{AuditAction, Result, Store, StoreError, audit, timestamp};

/// A plan's approval state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub plan_id: String,
    pub requested_by: String,
    pub reason: String,
    pub approved_by: Option<String>,
    /// The plan's digest when it was approved.
    pub digest: Option<String>,
    /// When the approval lapses.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Approval {
    /// Whether the approval covers the plan whose content has `digest`, at `now`.
    pub fn covers(&self, digest: &str, now: DateTime<Utc>) -> bool {
        self.approved_by.is_some()
            && self.digest.as_deref() == Some(digest)
            && self.expires_at.is_some_and(|at| now < at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("plan {0} does not need an approval")]
    NotRequired(String),
    #[error("plan {plan} was requested by {actor}; somebody else must approve it")]
    OwnRequest { plan: String, actor: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    pub(crate) async fn insert_approval_request(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO plan_approvals (plan_id, requested_by, requested_at, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (plan_id) DO NOTHING",
        )
        .bind(plan_id)
        .bind(actor)
        .bind(timestamp(now))
        .bind(reason)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted > 0 {
            audit::append(
                tx,
                self.backend(),
                now,
                actor,
                AuditAction::PlanApprovalRequested,
                plan_id,
                serde_json::json!({ "reason": reason }),
            )
            .await?;
        }
        Ok(())
    }

    /// Marks a stored plan as needing an approval before it may run.
    pub async fn request_approval(&self, plan_id: &str, actor: &str, reason: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        self.insert_approval_request(&mut tx, plan_id, actor, reason, self.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The plan's approval state; `None` when it needs none.
    pub async fn approval(&self, plan_id: &str) -> Result<Option<Approval>> {
        let row = sqlx::query(
            "SELECT plan_id, requested_by, reason, approved_by, digest, expires_ms FROM plan_approvals WHERE plan_id = $1",
        )
        .bind(plan_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(match row {
            Some(row) => {
                let expires_ms: Option<i64> = row.try_get("expires_ms")?;
                Some(Approval {
                    plan_id: row.try_get("plan_id")?,
                    requested_by: row.try_get("requested_by")?,
                    reason: row.try_get("reason")?,
                    approved_by: row.try_get("approved_by")?,
                    digest: row.try_get("digest")?,
                    expires_at: expires_ms.and_then(DateTime::from_timestamp_millis),
                })
            }
            None => None,
        })
    }

    /// Approves the plan whose content has `digest`, for `valid_for`;
    /// nobody approves their own request. Approving again (the plan changed,
    /// or the approval lapsed) replaces the earlier approval.
    pub async fn approve(
        &self,
        plan_id: &str,
        approver: &str,
        digest: &str,
        valid_for: Duration,
    ) -> std::result::Result<Approval, ApprovalError> {
        let Some(approval) = self.approval(plan_id).await? else {
            return Err(ApprovalError::NotRequired(plan_id.to_string()));
        };
        if approval.requested_by == approver {
            return Err(ApprovalError::OwnRequest {
                plan: plan_id.to_string(),
                actor: approver.to_string(),
            });
        }
        let now = self.now();
        if approval.covers(digest, now) {
            return Ok(approval);
        }
        let expires_at =
            now + chrono::Duration::from_std(valid_for).unwrap_or(chrono::Duration::days(1));
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE plan_approvals SET approved_by = $1, approved_at = $2, digest = $3, expires_ms = $4 WHERE plan_id = $5",
        )
        .bind(approver)
        .bind(timestamp(now))
        .bind(digest)
        .bind(expires_at.timestamp_millis())
        .bind(plan_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        audit::append(
            &mut tx,
            self.backend(),
            now,
            approver,
            AuditAction::PlanApproved,
            plan_id,
            serde_json::json!({
                "requested_by": approval.requested_by,
                "digest": digest,
                "expires_at": timestamp(expires_at),
            }),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Approval {
            approved_by: Some(approver.to_string()),
            digest: Some(digest.to_string()),
            expires_at: Some(expires_at),
            ..approval
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::SystemClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_approval_is_of_one_content_not_the_approvers_own_and_lapses() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut stores = vec![
            Store::open(&url, Arc::new(SystemClock))
                .await
                .expect("sqlite"),
        ];
        if let Some(url) = crate::testing::postgres_url("plan_approvals").await {
            stores.push(
                Store::open(&url, Arc::new(SystemClock))
                    .await
                    .expect("postgres"),
            );
        }
        for store in stores {
            assert!(store.approval("p-1").await.expect("read").is_none());
            assert!(matches!(
                store
                    .approve("p-1", "cli:bob", "d1", Duration::from_secs(60))
                    .await,
                Err(ApprovalError::NotRequired(_))
            ));
            store
                .request_approval("p-1", "drift", "drift remediation")
                .await
                .expect("request");
            store
                .request_approval("p-1", "drift", "drift remediation")
                .await
                .expect("asking twice is harmless");
            assert!(matches!(
                store
                    .approve("p-1", "drift", "d1", Duration::from_secs(60))
                    .await,
                Err(ApprovalError::OwnRequest { .. })
            ));
            let approved = store
                .approve("p-1", "cli:bob", "d1", Duration::from_secs(60))
                .await
                .expect("approve");
            assert_eq!(approved.approved_by.as_deref(), Some("cli:bob"));
            let now = store.now();
            assert!(approved.covers("d1", now));
            assert!(
                !approved.covers("d2", now),
                "another content is not approved"
            );
            assert!(
                !approved.covers("d1", now + chrono::Duration::seconds(61)),
                "it lapses"
            );
        }
    }
}
