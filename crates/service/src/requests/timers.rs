//! The requests' timers, kept in the store (each request's row): pending
//! requests expire, stages past their SLA escalate, approved requests whose
//! process stopped before their plan was queued are fulfilled, and
//! time-bound access ends. `serve` and `worker` call [`Service::tick_requests`]
//! every second; whichever process runs when a timer is due acts on it, once.

use grantflow_model::{AccountRef, OpKind, ResourceKind, ResourceRef};
use grantflow_store::{AuditAction, RequestChange, RequestRecord};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashSet;

use super::{REQUESTS_ACTOR, chain_of};
use crate::{Actor, ApplyOptions, Result, Service};

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub ended: usize,
    pub expired: usize,
    pub escalated: usize,
    pub fulfilled: usize,
}

impl Service {
    /// Acts on every request timer that is due now.
    pub async fn tick_requests(&self) -> Result<TickReport> {
        let now = self.now();
        let mut report = TickReport::default();
        let (ending, others): (Vec<_>, Vec<_>) = self
            .store
            .requests_due(now)
            .await?
            .into_iter()
            .partition(|r| r.state == "active");
        // Everything due now ends together: one read of the state and the policies, one plan.
        report.ended = self.end_requests(&ending, "its time ran out").await?;
        for record in others {
            match record.state.as_str() {
                "approved" => {
                    self.fulfil(&record.id).await?;
                    report.fulfilled += 1;
                }
                "pending" if record.pending_until <= now => {
                    let expired = self
                        .store
                        .transition_request(
                            &record.id,
                            ("pending", Some(record.stage)),
                            &RequestChange {
                                state: "expired".into(),
                                ..RequestChange::default()
                            },
                            REQUESTS_ACTOR,
                            AuditAction::RequestExpired,
                            json!({"waited_until": record.pending_until}),
                        )
                        .await?;
                    report.expired += usize::from(expired);
                }
                "pending" if !record.escalated => {
                    let chain = chain_of(&record);
                    let Some(stage) = usize::try_from(record.stage)
                        .ok()
                        .and_then(|i| chain.get(i))
                    else {
                        continue;
                    };
                    let Some(sla) = stage.sla_seconds else {
                        continue;
                    };
                    let has_escalation =
                        !stage.escalate_to.is_empty() || stage.escalate_to_approvers;
                    if !has_escalation
                        || now < record.stage_started_at + chrono::Duration::seconds(sla as i64)
                    {
                        continue;
                    }
                    let escalated = self
                        .store
                        .transition_request(
                            &record.id,
                            ("pending", Some(record.stage)),
                            &RequestChange {
                                state: "pending".into(),
                                escalated: Some(true),
                                ..RequestChange::default()
                            },
                            REQUESTS_ACTOR,
                            AuditAction::RequestEscalated,
                            json!({
                                "stage": stage.name,
                                "sla_seconds": sla,
                                "added": stage.escalate_to,
                                "approvers": stage.escalate_to_approvers,
                            }),
                        )
                        .await?;
                    report.escalated += usize::from(escalated);
                }
                _ => {}
            }
        }
        Ok(report)
    }

    /// Ends time-bound requests now: removes each grant they gave that is
    /// still held, unless a policy grants it for good (kept, and said so) or
    /// another request still in force holds it; a grant already removed by
    /// hand is recorded, not an error. The removals of all of them are one
    /// plan. Returns how many this call ended (another process may have
    /// ended some first).
    pub(crate) async fn end_requests(&self, records: &[RequestRecord], why: &str) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let actual = self.actual_state().await?;
        let policies = self.request_policies()?;
        let declared = grantflow_planner::with_declared(&policies, &actual);
        let subjects: HashSet<String> = records.iter().map(|r| r.subject.to_lowercase()).collect();
        let ending: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let people: Vec<_> = grantflow_planner::directory_people(&actual)
            .map(|people| {
                people
                    .into_iter()
                    .filter(|p| subjects.contains(&p.email.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let desired = grantflow_planner::desired_access(&policies, declared.as_ref(), &people).ok();
        let mut removals = Vec::new();
        let mut planned: HashSet<(String, String, String, String)> = HashSet::new();
        let mut outcomes = Vec::new();
        for record in records {
            let mut kept = Vec::new();
            let mut gone = Vec::new();
            let mut removes = false;
            for grant in record.grants.as_array().into_iter().flatten() {
                let text = |key: &str| grant.get(key).and_then(Value::as_str).unwrap_or_default();
                let connection = grantflow_model::ConnectionName::new(text("connection"));
                let (account_id, resource_id, entitlement) =
                    (text("account_id"), text("resource_id"), text("entitlement"));
                let label = format!(
                    "{} {} \"{}\" ({entitlement}) for {}",
                    connection,
                    text("resource_kind"),
                    text("resource"),
                    text("login")
                );
                let held = actual.snapshots.get(&connection).is_some_and(|snapshot| {
                    snapshot.grants.iter().any(|g| {
                        g.account_id == account_id
                            && g.resource_id == resource_id
                            && g.entitlement == entitlement
                    })
                });
                if !held {
                    gone.push(label);
                    continue;
                }
                let key = (
                    &connection,
                    Cow::Borrowed(account_id),
                    resource_id,
                    entitlement,
                );
                if let Some(wanted_by) = desired.as_ref().and_then(|d| d.grants.get(&key)) {
                    kept.push(json!({
                        "grant": label,
                        "policies": grantflow_planner::policy_reasons(&policies, wanted_by),
                    }));
                    continue;
                }
                // Another time-bound request (an extension) still holds it.
                if actual.time_bound.iter().any(|t| {
                    !ending.contains(t.request.as_str())
                        && t.connection == connection
                        && t.account_id == account_id
                        && t.resource_id == resource_id
                        && t.entitlement == entitlement
                }) {
                    kept.push(
                        json!({"grant": label, "requests": "another time-bound request holds it"}),
                    );
                    continue;
                }
                removes = true;
                let natural = (
                    connection.to_string(),
                    account_id.to_string(),
                    resource_id.to_string(),
                    entitlement.to_string(),
                );
                if !planned.insert(natural) {
                    continue;
                }
                removals.push((
                    OpKind::RemoveGrant {
                        account: AccountRef {
                            id: account_id.to_string(),
                            login: text("login").to_string(),
                        },
                        resource: ResourceRef {
                            id: resource_id.to_string(),
                            kind: ResourceKind(text("resource_kind").to_string()),
                            name: text("resource").to_string(),
                        },
                        entitlement: entitlement.to_string(),
                    },
                    connection,
                    vec![format!("request {} ended: {why}", record.id)],
                ));
            }
            outcomes.push((record, kept, gone, removes));
        }
        let end_plan = if removals.is_empty() {
            None
        } else {
            let origin = match records {
                [one] => format!("end of request {}", one.id),
                many => format!("end of {} requests", many.len()),
            };
            let plan =
                grantflow_planner::plan_changes(removals, &actual, &origin, self.now(), vec![])
                    .map_err(crate::plans::policy_error)?;
            self.store
                .save_plan_for_approval(&plan, REQUESTS_ACTOR, None)
                .await?;
            // The requests' own grants come off whatever share of a group they are: the rail is for policies.
            self.apply(
                &Actor::system("requests"),
                &plan.id,
                &ApplyOptions {
                    queue_only: true,
                    allow_mass_removal: Some(plan.id.clone()),
                    ..ApplyOptions::default()
                },
                &grantflow_engine::Silent,
            )
            .await?;
            Some(plan.id)
        };
        let mut ended = 0;
        for (record, kept, gone, removes) in outcomes {
            let plan = if removes { end_plan.clone() } else { None };
            let moved = self
                .store
                .transition_request(
                    &record.id,
                    ("active", None),
                    &RequestChange {
                        state: "ended".into(),
                        end_plan_id: plan.clone(),
                        ..RequestChange::default()
                    },
                    REQUESTS_ACTOR,
                    AuditAction::RequestEnded,
                    json!({
                        "why": why,
                        "expired_at": record.expires_at,
                        "plan": plan,
                        "kept": kept,
                        "already_removed": gone,
                    }),
                )
                .await?;
            ended += usize::from(moved);
        }
        Ok(ended)
    }
}
