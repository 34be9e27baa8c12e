//! Reviewing a request: a reviewer of the stage waiting approves or denies it (never the requester or
//! the person it is for); the last approval makes the plan and queues it. A review after the fact (a
//! break-glass grant already given) confirms or revokes.

use grantflow_store::{AuditAction, RequestChange, RequestRecord, ReviewRecord};
use serde_json::{Value, json};

use super::*;
use crate::{Actor, Result, Role, Service, ServiceError};

impl Service {
    /// Approves or denies the stage of a request waiting for reviews. Only a
    /// reviewer of that stage, never the requester or the person it is for.
    pub async fn review_request(
        &self,
        actor: &Actor,
        id: &str,
        verdict: Verdict,
        comment: &str,
        channel: &str,
    ) -> Result<RequestView> {
        let record = self.request_record(id).await?;
        if record.requester == actor.id
            || record
                .requester_person
                .as_deref()
                .is_some_and(|p| actor.is_person(p))
            || actor.is_person(&record.subject)
        {
            return Err(refused(
                "self_approval",
                format!(
                    "request {id} is {}'s own (asked by {} for {}); somebody else must review it",
                    actor.person.as_deref().unwrap_or(&actor.id),
                    record.requester,
                    record.subject
                ),
            ));
        }
        let chain = chain_of(&record);
        let reviewing_after = record.break_glass && record.state == "active";
        if record.state != "pending" && !reviewing_after {
            return Err(refused(
                "request_not_pending",
                format!("request {id} is {}; it takes no more reviews", record.state),
            ));
        }
        let stage_index = usize::try_from(record.stage).unwrap_or(usize::MAX);
        let Some(stage) = chain.get(stage_index) else {
            return Err(refused(
                "request_not_pending",
                format!("request {id} has no stage waiting for reviews"),
            ));
        };
        let Some(reviewer) = eligible(actor, stage, record.escalated) else {
            return Err(ServiceError::Forbidden(format!(
                "{actor} is not a reviewer of request {id}'s stage \"{}\" ({})",
                stage.name,
                describe_reviewers(stage, record.escalated)
            )));
        };
        if reviewing_after {
            return self
                .review_after_the_fact(actor, &record, &reviewer, verdict, comment, channel)
                .await;
        }
        let review = ReviewRecord {
            request_id: id.to_string(),
            stage: record.stage,
            reviewer: reviewer.clone(),
            actor: actor.id.clone(),
            decision: verdict.as_str().to_string(),
            channel: channel.to_string(),
            comment: comment.to_string(),
            at: self.now(),
        };
        if !self.store.record_review(&review).await? {
            return Err(refused(
                "already_reviewed",
                format!(
                    "{reviewer} already decided on request {id}'s stage \"{}\", or it moved on",
                    stage.name
                ),
            ));
        }
        match verdict {
            Verdict::Deny => {
                self.store
                    .transition_request(
                        id,
                        ("pending", Some(record.stage)),
                        &RequestChange {
                            state: "denied".into(),
                            ..RequestChange::default()
                        },
                        &actor.id,
                        AuditAction::RequestDenied,
                        json!({"stage": stage.name, "by": reviewer, "comment": comment}),
                    )
                    .await?;
            }
            Verdict::Approve => {
                let approvals = self
                    .store
                    .reviews(id)
                    .await?
                    .iter()
                    .filter(|r| r.stage == record.stage && r.decision == "approve")
                    .count() as u32;
                if approvals >= stage.need {
                    let last = stage_index + 1 >= chain.len();
                    let now = self.now();
                    let moved = if last {
                        self.store
                            .transition_request(
                                id,
                                ("pending", Some(record.stage)),
                                &RequestChange {
                                    state: "approved".into(),
                                    ..RequestChange::default()
                                },
                                &actor.id,
                                AuditAction::RequestApproved,
                                json!({"stages": chain.iter().map(|s| &s.name).collect::<Vec<_>>()}),
                            )
                            .await?
                    } else {
                        self.store
                            .transition_request(
                                id,
                                ("pending", Some(record.stage)),
                                &RequestChange {
                                    state: "pending".into(),
                                    stage: Some(record.stage + 1),
                                    stage_started_at: Some(now),
                                    escalated: Some(false),
                                    ..RequestChange::default()
                                },
                                &actor.id,
                                AuditAction::RequestReviewed,
                                json!({"stage_passed": stage.name, "next": chain.get(stage_index + 1).map(|s| &s.name)}),
                            )
                            .await?
                    };
                    if moved && last {
                        self.fulfil(id).await?;
                    }
                }
            }
        }
        let view = self.request_view(actor, id).await?;
        if view.state == "pending" && view.stage != Some(stage_index) {
            self.announce(&view, slack::Announce::AwaitingReview).await;
        } else if view.state != "pending" {
            self.announce(&view, slack::Announce::Decided).await;
        }
        Ok(view)
    }

    /// A break-glass request's review after the fact: approving closes it;
    /// denying ends the access now.
    pub(super) async fn review_after_the_fact(
        &self,
        actor: &Actor,
        record: &RequestRecord,
        reviewer: &str,
        verdict: Verdict,
        comment: &str,
        channel: &str,
    ) -> Result<RequestView> {
        let review = ReviewRecord {
            request_id: record.id.clone(),
            stage: record.stage,
            reviewer: reviewer.to_string(),
            actor: actor.id.clone(),
            decision: verdict.as_str().to_string(),
            channel: channel.to_string(),
            comment: comment.to_string(),
            at: self.now(),
        };
        // A break-glass request is `active` while reviewed: the review is kept beside its state.
        if !self.store.record_review_any_state(&review).await? {
            return Err(refused(
                "already_reviewed",
                format!("{reviewer} already reviewed request {}", record.id),
            ));
        }
        match verdict {
            Verdict::Deny => {
                self.end_requests(
                    std::slice::from_ref(record),
                    "the after-the-fact review denied it",
                )
                .await?;
            }
            Verdict::Approve => {
                // The review is closed: its stage is passed; the access runs to its end.
                self.store
                    .transition_request(
                        &record.id,
                        ("active", Some(record.stage)),
                        &RequestChange {
                            state: "active".into(),
                            stage: Some(record.stage + 1),
                            ..RequestChange::default()
                        },
                        &actor.id,
                        AuditAction::RequestReviewed,
                        json!({"after_the_fact": "closed", "by": reviewer}),
                    )
                    .await?;
            }
        }
        self.request_view(actor, &record.id).await
    }

    /// Makes, stores and queues the plan of an approved request, and starts
    /// its time limit. Safe to call again after a crash: only a request still
    /// `approved` moves on, once.
    pub(crate) async fn fulfil(&self, id: &str) -> Result<()> {
        let record = self.request_record(id).await?;
        if record.state != "approved" {
            return Ok(());
        }
        // Started here, while the request is still `approved`: whichever call fulfils it (the review, or
        // the timer after a crash) starts the `approved` flows, and their key makes it once.
        self.start_request_flows_logged(id, grantflow_workflows::RequestMoment::Approved)
            .await;
        let asked: Asked = serde_json::from_value(record.body.clone()).map_err(|e| {
            ServiceError::Other(anyhow::anyhow!("request {id}: unreadable body: {e}"))
        })?;
        let policies = self.request_policies()?;
        let actual = self.actual_state().await?;
        let system = Actor::system("requests");
        let plan = self.draft(&system, &asked, &record.subject, &policies, &actual)?;
        let plan = self.without_changes_already_live(plan, &actual).await?;
        let extension = record.review.get("extends").is_some_and(Value::is_string);
        let grants: Vec<Value> = if plan.operations.is_empty() && extension {
            // An extension: what the earlier request holds is this one's now, to its own end.
            self.requested_ops(&asked, &record.subject, &policies, &actual)?
                .iter()
                .filter_map(|(kind, connection)| grant_json(connection, kind))
                .collect()
        } else {
            plan.operations
                .iter()
                .filter_map(|op| grant_json(&op.connection, &op.kind))
                .collect()
        };
        let now = self.now();
        let expires_at = record
            .duration_ms
            .map(|ms| now + chrono::Duration::milliseconds(ms));
        let plan_id = if plan.operations.is_empty() {
            None
        } else {
            self.store
                .save_plan_for_approval(&plan, REQUESTS_ACTOR, None)
                .await?;
            self.apply(
                &system,
                &plan.id,
                &crate::ApplyOptions {
                    queue_only: true,
                    ..crate::ApplyOptions::default()
                },
                &grantflow_engine::Silent,
            )
            .await?;
            Some(plan.id.clone())
        };
        let state = if expires_at.is_some() && !grants.is_empty() {
            "active"
        } else {
            "done"
        };
        self.store
            .transition_request(
                id,
                ("approved", None),
                &RequestChange {
                    state: state.into(),
                    plan_id: plan_id.clone(),
                    grants: Some(Value::Array(grants.clone())),
                    expires_at: if state == "active" { expires_at } else { None },
                    ..RequestChange::default()
                },
                REQUESTS_ACTOR,
                AuditAction::PlanQueued,
                json!({"request": id, "plan": plan_id, "grants": grants.len(), "expires_at": expires_at, "notes": plan.review.notes}),
            )
            .await?;
        Ok(())
    }
}

/// Whether the actor may decide the request's current stage now.
pub(super) fn can_review(actor: &Actor, record: &RequestRecord) -> bool {
    let open = record.state == "pending" || (record.break_glass && record.state == "active");
    if !open || involves(actor, record) {
        return false;
    }
    let chain = chain_of(record);
    let Some(stage) = usize::try_from(record.stage)
        .ok()
        .and_then(|i| chain.get(i))
    else {
        return false;
    };
    eligible(actor, stage, record.escalated).is_some()
}

/// The reviewer the actor is in this stage (their email, or their actor id
/// for a stage of grantflow's approvers); `None` when they are none.
pub(super) fn eligible(actor: &Actor, stage: &ChainStage, escalated: bool) -> Option<String> {
    let named = stage.reviewers.iter().chain(if escalated {
        stage.escalate_to.iter()
    } else {
        [].iter()
    });
    for email in named {
        if actor.is_person(email) {
            return Some(email.to_lowercase());
        }
    }
    let approvers = stage.approvers || (escalated && stage.escalate_to_approvers);
    (approvers && actor.has(&Role::Approver))
        .then(|| actor.person.clone().unwrap_or_else(|| actor.id.clone()))
}

pub(super) fn describe_reviewers(stage: &ChainStage, escalated: bool) -> String {
    let mut who: Vec<String> = stage.reviewers.clone();
    if escalated {
        who.extend(stage.escalate_to.iter().cloned());
    }
    if stage.approvers || (escalated && stage.escalate_to_approvers) {
        who.push("grantflow approvers".into());
    }
    if who.is_empty() {
        "nobody".into()
    } else {
        format!("reviewers: {}", who.join(", "))
    }
}
