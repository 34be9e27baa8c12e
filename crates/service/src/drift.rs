//! Drift: compare what people hold in every system with what the policies
//! want, record each finding (opened or resolved, audited), and remediate
//! what the configured mode allows: at once through the engine (behind its
//! gate), or as a plan that waits for an approver.

use grantflow_drift::{DriftReport, detect, remediation};
use grantflow_engine::{Report, Silent};
use grantflow_model::Plan;
use grantflow_policy::PolicySet;
use grantflow_store::{DriftChanges, FindingRecord};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

use crate::plans::{ApplyOptions, ApplyOutcome};
use crate::{Actor, Result, Service, ServiceError};

/// Who drift checks act as in the audit trail and in approval requests, so
/// any person may approve a remediation plan.
pub fn drift_actor() -> Actor {
    Actor::system("drift")
}

/// What one check found and did.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub report: DriftReport,
    /// Finding key → what that access opens in production (findings of access held without a
    /// policy, when reachability is configured).
    pub reach: std::collections::BTreeMap<String, serde_json::Value>,
    /// Findings first seen in this check, and ones no longer found.
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
    /// The plan applied at once, and how it went.
    pub remediated: Option<Remediated>,
    /// The plan waiting for an approver.
    pub awaiting_approval: Option<String>,
    /// Why the automatic plan was held for approval instead (safety rail).
    pub held_back: Option<String>,
    #[serde(skip)]
    pub open: DriftChanges,
}

#[derive(Debug, Serialize)]
pub struct Remediated {
    pub plan: String,
    pub report: Report,
}

impl Service {
    /// One drift check on the newest syncs (and what grantflow applied since).
    pub async fn check_drift(&self, policies: &Path, concurrency: usize) -> Result<Checked> {
        let set = PolicySet::load(policies).map_err(|d| ServiceError::Policy(d.to_string()))?;
        let actual = self.actual_state().await?;
        let report = detect(&set, &actual, &self.config.drift).map_err(|e| match e {
            grantflow_planner::PlanError::Policy(problems) => ServiceError::Policy(problems),
            other => ServiceError::Invalid(other.to_string()),
        })?;
        let actor = drift_actor();
        let records: Vec<FindingRecord> = report
            .drift()
            .map(|f| FindingRecord {
                key: f.key.clone(),
                connection: f.connection.to_string(),
                kind: f.kind.as_str().to_string(),
                details: serde_json::json!({
                    "kind": f.kind.as_str(),
                    "person": f.person,
                    "account": f.account.as_ref().map(|a| &a.login),
                    "resource": f.resource.as_ref().map(|r| format!("{}/{}", r.kind, r.name)),
                    "entitlement": f.entitlement,
                    "policies": f.policies,
                    "mode": f.mode.as_str(),
                    "detail": f.detail,
                }),
            })
            .collect();
        let mut records = records;
        if let Some(graph) = self.graph().await? {
            self.findings_reach(&graph, &mut records);
        }
        let reach = records
            .iter()
            .filter_map(|r| Some((r.key.clone(), r.details.get("reach")?.clone())))
            .collect();
        let changes = self.store.record_drift(&actor.id, &records).await?;
        let origin = format!("drift check of {}", policies.display());
        let plans = remediation(&report, &actual, &origin, self.now())
            .map_err(|e| ServiceError::Invalid(format!("cannot plan the remediation: {e}")))?;

        let mut checked = Checked {
            report,
            reach,
            opened: changes.opened.clone(),
            resolved: changes.resolved.clone(),
            remediated: None,
            awaiting_approval: None,
            held_back: None,
            open: changes,
        };
        let mut for_approval: Vec<Plan> = plans.needs_approval.into_iter().collect();
        if let Some(plan) = plans.automatic {
            let everything: BTreeSet<u32> = plan.operations.iter().map(|op| op.id.0).collect();
            let too_much = grantflow_engine::plan_rail_violations(
                &plan,
                &everything,
                &actual.snapshots,
                &self.config.safety,
            );
            if !too_much.is_empty() {
                checked.held_back = Some(format!(
                    "the automatic remediation plan {} trips the mass-removal safety rail ({}); it waits for approval instead",
                    plan.id,
                    too_much.join("; ")
                ));
                for_approval.push(plan);
            } else {
                self.store.save_plan(&plan, &actor.id).await?;
                let options = ApplyOptions {
                    concurrency,
                    ..ApplyOptions::default()
                };
                match self.apply(&actor, &plan.id, &options, &Silent).await {
                    Ok(ApplyOutcome::Ran { report, .. }) => {
                        checked.remediated = Some(Remediated {
                            plan: plan.id.clone(),
                            report,
                        });
                    }
                    Ok(ApplyOutcome::Queued) => {}
                    // Past the rolling removal budget: a person decides.
                    Err(ServiceError::Refused {
                        code: "mass_removal",
                        message,
                    }) => {
                        checked.held_back =
                            Some(format!("{message}; it waits for approval instead"));
                        self.store
                            .request_approval(
                                &plan.id,
                                &actor.id,
                                "drift remediation past the safety rail",
                            )
                            .await?;
                        checked.awaiting_approval = Some(plan.id.clone());
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        if !for_approval.is_empty() {
            let plan = if for_approval.len() == 1 {
                for_approval.remove(0)
            } else {
                let changes = for_approval
                    .iter()
                    .flat_map(|p| p.operations.iter().cloned())
                    .map(|op| (op.kind, op.connection, op.reasons))
                    .collect();
                grantflow_planner::plan_changes(changes, &actual, &origin, self.now(), vec![])
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?
            };
            self.store
                .save_plan_for_approval(&plan, &actor.id, Some("drift remediation"))
                .await?;
            checked.awaiting_approval = Some(plan.id.clone());
        }
        Ok(checked)
    }
}
