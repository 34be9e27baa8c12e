//! Drift findings as last seen.
//! Portable SQL: `$n` placeholders, no dialect extensions.

use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

use crate::{AuditAction, Result, Store, audit, timestamp};

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
        // A check over a large tenant can open thousands of findings: their events are written as
        // one batch at the end of the transaction.
        let mut events = audit::Appender::open(&mut tx, self.backend).await?;
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
                events.push(
                    now,
                    actor,
                    AuditAction::DriftFindingOpened,
                    &finding.key,
                    finding.details.clone(),
                );
                changes.opened.push(finding.key.clone());
            }
        }
        for key in open.difference(&seen) {
            sqlx::query("UPDATE drift_findings SET resolved_at = $1 WHERE finding_key = $2")
                .bind(&at)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            events.push(
                now,
                actor,
                AuditAction::DriftFindingResolved,
                key,
                serde_json::json!({}),
            );
            changes.resolved.push(key.clone());
        }
        events.write(&mut tx).await?;
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
}
