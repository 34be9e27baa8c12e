//! Reading requests: the ones a caller may see, one request's view and its timeline.

use grantflow_store::{RequestFilter, RequestRecord};

use super::review::can_review;
use super::*;
use crate::{Actor, Result, Role, Service, ServiceError};

impl Service {
    /// Requests the caller may see: their own, those they may review now,
    /// and every one for administrators and auditors.
    pub async fn requests_for(
        &self,
        actor: &Actor,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RequestView>> {
        let everything = actor.has(&Role::Admin) || actor.has(&Role::Auditor);
        let filter = RequestFilter {
            state: state.map(str::to_string),
            ..RequestFilter::default()
        };
        let records = self.store.requests(&filter, 1_000).await?;
        let mut views = Vec::new();
        for record in records {
            if views.len() >= limit {
                break;
            }
            let own = involves(actor, &record);
            let reviewable = can_review(actor, &record);
            if everything || own || reviewable {
                views.push(self.view_of(actor, record).await?);
            }
        }
        Ok(views)
    }

    /// One request with its timeline, for those who may see it.
    pub async fn request_timeline(&self, actor: &Actor, id: &str) -> Result<Timeline> {
        let record = self.request_record(id).await?;
        self.may_see(actor, &record)?;
        let mut subjects = vec![record.id.as_str()];
        subjects.extend(record.plan_id.as_deref());
        subjects.extend(record.end_plan_id.as_deref());
        let events = self.store.events_about(&subjects).await?;
        Ok(Timeline {
            request: self.view_of(actor, record).await?,
            events,
        })
    }

    pub async fn request_view(&self, actor: &Actor, id: &str) -> Result<RequestView> {
        let record = self.request_record(id).await?;
        self.may_see(actor, &record)?;
        self.view_of(actor, record).await
    }

    pub(super) fn may_see(&self, actor: &Actor, record: &RequestRecord) -> Result<()> {
        let reviewer_ever = chain_of(record).iter().any(|stage| {
            (stage.approvers && actor.has(&Role::Approver))
                || stage
                    .reviewers
                    .iter()
                    .chain(&stage.escalate_to)
                    .any(|r| actor.is_person(r))
        });
        if actor.has(&Role::Admin)
            || actor.has(&Role::Auditor)
            || involves(actor, record)
            || reviewer_ever
        {
            Ok(())
        } else {
            // As if it did not exist: who asked for what is not everyone's to know.
            Err(ServiceError::NotFound(format!(
                "no request with id \"{}\"",
                record.id
            )))
        }
    }

    pub(super) async fn request_record(&self, id: &str) -> Result<RequestRecord> {
        self.store
            .request(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no request with id \"{id}\"")))
    }

    pub(super) async fn view_of(
        &self,
        actor: &Actor,
        record: RequestRecord,
    ) -> Result<RequestView> {
        let reviews = self.store.reviews(&record.id).await?;
        let chain = chain_of(&record);
        let stages = chain
            .iter()
            .enumerate()
            .map(|(index, stage)| StageView {
                stage: stage.clone(),
                escalated: record.escalated && index as i64 == record.stage,
                decisions: reviews
                    .iter()
                    .filter(|r| r.stage == index as i64)
                    .map(|r| Decision {
                        reviewer: r.reviewer.clone(),
                        actor: r.actor.clone(),
                        decision: r.decision.clone(),
                        channel: r.channel.clone(),
                        comment: r.comment.clone(),
                        at: r.at,
                    })
                    .collect(),
            })
            .collect();
        let asked: Option<Asked> = serde_json::from_value(record.body.clone()).ok();
        Ok(RequestView {
            can_review: can_review(actor, &record),
            id: record.id,
            requester: record.requester,
            subject: record.subject,
            summary: asked.as_ref().map(Asked::describe).unwrap_or_default(),
            asked: record.body,
            reason: record.reason,
            ticket: record.ticket,
            duration_seconds: record.duration_ms.map(|ms| (ms / 1000) as u64),
            rule: record.rule,
            stage: (record.state == "pending"
                || (record.break_glass
                    && record.state == "active"
                    && (record.stage as usize) < chain.len()))
            .then_some(record.stage as usize),
            state: record.state,
            break_glass: record.break_glass,
            stages,
            plan_id: record.plan_id,
            end_plan_id: record.end_plan_id,
            created_at: record.created_at,
            pending_until: record.pending_until,
            expires_at: record.expires_at,
            review: record.review,
        })
    }
}
