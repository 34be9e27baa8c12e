//! Drift findings as last seen, and approvals of plans that need one.
//! Portable SQL: `$n` placeholders, no dialect extensions.

use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

use crate::{Result, Store, audit, timestamp};

/// One finding of a drift check, as the store keeps it.
#[derive(Debug, Clone)]
pub struct FindingRecord {
    /// Stable across checks: the same difference has the same key.
    pub key: String,
    pub connection: String,
    pub kind: String,
    pub details: serde_json::Value,
}

/// What a drift check changed in the open findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftChanges {
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
    /// Open findings per (connection, kind) after the check.
    pub open: BTreeMap<(String, String), i64>,
}

/// A plan's approval state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub plan_id: String,
    pub requested_by: String,
    pub reason: String,
    pub approved_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("plan {0} does not need an approval")]
    NotRequired(String),
    #[error("plan {plan} was requested by {actor}; somebody else must approve it")]
    OwnRequest { plan: String, actor: String },
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl Store {
    /// Records the findings of one check: new ones are opened, ones no longer
    /// found are resolved, each with an audit event, in one transaction.
    pub async fn record_drift(
        &self,
        actor: &str,
        findings: &[FindingRecord],
    ) -> Result<DriftChanges> {
        let now = self.now();
        let at = timestamp(now);
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT finding_key FROM drift_findings WHERE resolved_at IS NULL")
            .fetch_all(&mut *tx)
            .await?;
        let mut open: BTreeSet<String> = BTreeSet::new();
        for row in rows {
            open.insert(row.try_get("finding_key")?);
        }
        let mut changes = DriftChanges::default();
        let mut seen = BTreeSet::new();
        for finding in findings {
            if !seen.insert(finding.key.clone()) {
                continue;
            }
            let details = finding.details.to_string();
            if open.contains(&finding.key) {
                sqlx::query(
                    "UPDATE drift_findings SET last_seen = $1, details = $2 WHERE finding_key = $3",
                )
                .bind(&at)
                .bind(&details)
                .bind(&finding.key)
                .execute(&mut *tx)
                .await?;
            } else {
                // A finding seen before and resolved since opens again.
                sqlx::query("DELETE FROM drift_findings WHERE finding_key = $1")
                    .bind(&finding.key)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO drift_findings (finding_key, connection, kind, details, first_seen, last_seen)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&finding.key)
                .bind(&finding.connection)
                .bind(&finding.kind)
                .bind(&details)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
                audit::append(
                    &mut tx,
                    self.backend,
                    now,
                    actor,
                    "drift.finding_opened",
                    &finding.key,
                    finding.details.clone(),
                )
                .await?;
                changes.opened.push(finding.key.clone());
            }
        }
        for key in open.difference(&seen) {
            sqlx::query("UPDATE drift_findings SET resolved_at = $1 WHERE finding_key = $2")
                .bind(&at)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            audit::append(
                &mut tx,
                self.backend,
                now,
                actor,
                "drift.finding_resolved",
                key,
                serde_json::json!({}),
            )
            .await?;
            changes.resolved.push(key.clone());
        }
        let rows = sqlx::query(
            "SELECT connection, kind, COUNT(*) AS n FROM drift_findings WHERE resolved_at IS NULL GROUP BY connection, kind",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            changes.open.insert(
                (row.try_get("connection")?, row.try_get("kind")?),
                row.try_get("n")?,
            );
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Marks `plan_id` as needing an approval before it may run.
    pub async fn request_approval(&self, plan_id: &str, actor: &str, reason: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO plan_approvals (plan_id, requested_by, requested_at, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (plan_id) DO NOTHING",
        )
        .bind(plan_id)
        .bind(actor)
        .bind(timestamp(now))
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend,
            now,
            actor,
            "plan.approval_requested",
            plan_id,
            serde_json::json!({ "reason": reason }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The plan's approval state; `None` when it needs none.
    pub async fn approval(&self, plan_id: &str) -> Result<Option<Approval>> {
        let row = sqlx::query(
            "SELECT plan_id, requested_by, reason, approved_by FROM plan_approvals WHERE plan_id = $1",
        )
        .bind(plan_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(row) => Some(Approval {
                plan_id: row.try_get("plan_id")?,
                requested_by: row.try_get("requested_by")?,
                reason: row.try_get("reason")?,
                approved_by: row.try_get("approved_by")?,
            }),
            None => None,
        })
    }

    /// Approves a plan that needs it; nobody approves their own request.
    pub async fn approve(
        &self,
        plan_id: &str,
        approver: &str,
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
        if approval.approved_by.is_some() {
            return Ok(approval);
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE plan_approvals SET approved_by = $1, approved_at = $2 WHERE plan_id = $3 AND approved_by IS NULL",
        )
        .bind(approver)
        .bind(timestamp(now))
        .bind(plan_id)
        .execute(&mut *tx)
        .await
        .map_err(crate::StoreError::from)?;
        audit::append(
            &mut tx,
            self.backend,
            now,
            approver,
            "plan.approved",
            plan_id,
            serde_json::json!({ "requested_by": approval.requested_by }),
        )
        .await?;
        tx.commit().await.map_err(crate::StoreError::from)?;
        Ok(Approval {
            approved_by: Some(approver.to_string()),
            ..approval
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::SystemClock;
    use std::sync::Arc;

    async fn stores(test: &str, dir: &tempfile::TempDir) -> Vec<Store> {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut stores = vec![
            Store::open(&url, Arc::new(SystemClock))
                .await
                .expect("sqlite"),
        ];
        if let Some(url) = crate::testing::postgres_url(test).await {
            stores.push(
                Store::open(&url, Arc::new(SystemClock))
                    .await
                    .expect("postgres"),
            );
        }
        stores
    }

    fn finding(key: &str) -> FindingRecord {
        FindingRecord {
            key: key.into(),
            connection: "okta".into(),
            kind: "unexpected_grant".into(),
            details: serde_json::json!({ "detail": key }),
        }
    }

    #[tokio::test]
    async fn findings_open_once_and_resolve_when_gone_with_audit_events() {
        let dir = tempfile::tempdir().expect("dir");
        for store in stores("drift_findings", &dir).await {
            let first = store
                .record_drift("drift", &[finding("a"), finding("b")])
                .await
                .expect("record");
            assert_eq!(first.opened, vec!["a", "b"]);
            let second = store
                .record_drift("drift", &[finding("b"), finding("c")])
                .await
                .expect("record");
            assert_eq!(second.opened, vec!["c"]);
            assert_eq!(second.resolved, vec!["a"]);
            assert_eq!(
                second.open[&("okta".to_string(), "unexpected_grant".to_string())],
                2
            );
            let third = store
                .record_drift("drift", &[finding("a")])
                .await
                .expect("record");
            assert_eq!(
                third.opened,
                vec!["a"],
                "a resolved finding that returns opens again"
            );
            let actions: Vec<String> = store
                .audit_events()
                .await
                .expect("events")
                .into_iter()
                .filter(|e| e.action.starts_with("drift."))
                .map(|e| format!("{} {}", e.action, e.subject))
                .collect();
            assert_eq!(
                actions,
                vec![
                    "drift.finding_opened a",
                    "drift.finding_opened b",
                    "drift.finding_opened c",
                    "drift.finding_resolved a",
                    "drift.finding_opened a",
                    "drift.finding_resolved b",
                    "drift.finding_resolved c",
                ]
            );
            assert!(matches!(
                store.verify_audit().await.expect("verify"),
                crate::Verification::Intact { .. }
            ));
        }
    }

    #[tokio::test]
    async fn nobody_approves_their_own_request() {
        let dir = tempfile::tempdir().expect("dir");
        for store in stores("plan_approvals", &dir).await {
            assert!(store.approval("p-1").await.expect("read").is_none());
            assert!(matches!(
                store.approve("p-1", "cli:bob").await,
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
                store.approve("p-1", "drift").await,
                Err(ApprovalError::OwnRequest { .. })
            ));
            let approved = store.approve("p-1", "cli:bob").await.expect("approve");
            assert_eq!(approved.approved_by.as_deref(), Some("cli:bob"));
        }
    }
}
