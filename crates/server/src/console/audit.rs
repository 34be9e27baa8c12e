//! Audit: the event stream with filters, the chain's verification with its
//! checkpoints, and the export.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use grantflow_service::access::Permission;
use grantflow_store::Verification;
use serde::Deserialize;

use super::*;

const SHOWN: i64 = 200;

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    action: Option<String>,
    actor: Option<String>,
    /// Events after this sequence number (the next page).
    after: Option<i64>,
}

pub(crate) struct EventRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
}

/// The chain's verdict as the page shows it.
pub(crate) struct Verdict {
    pub intact: bool,
    pub summary: String,
    pub checkpoints: String,
    pub rejected: Vec<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    action: String,
    actor: String,
    events: Vec<EventRow>,
    next: String,
    verdict: Option<Verdict>,
}

fn filled(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

async fn page(
    shared: &Shared,
    visitor: &Visitor,
    query: EventsQuery,
    verdict: Option<Verdict>,
) -> PageResult {
    visitor.authorize(&Permission::ReadAudit)?;
    let action = filled(query.action);
    let actor = filled(query.actor);
    let mut events = shared
        .service
        .store
        .audit_page(
            action.as_deref(),
            actor.as_deref(),
            query.after.unwrap_or(0),
            SHOWN + 1,
        )
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    let next = if events.len() as i64 > SHOWN {
        events.truncate(SHOWN as usize);
        events
            .last()
            .map(|e| {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                if let Some(action) = &action {
                    query.append_pair("action", action);
                }
                if let Some(actor) = &actor {
                    query.append_pair("actor", actor);
                }
                query.append_pair("after", &e.seq.to_string());
                format!("/console/audit?{}", query.finish())
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    render(&AuditPage {
        layout: Layout::new(visitor, "Audit", "/console/audit"),
        action: action.unwrap_or_default(),
        actor: actor.unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                details: e.details.to_string(),
            })
            .collect(),
        next,
        verdict,
    })
}

/// `GET /console/audit?action=&actor=&after=`: the events, oldest first.
pub(crate) async fn events(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(query): Query<EventsQuery>,
) -> PageResult {
    page(&shared, &visitor, query, None).await
}

/// `GET /console/audit/verify`: the events with the chain's verification
/// (every hash, then the signed checkpoints) above them.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(query): Query<EventsQuery>,
) -> PageResult {
    visitor.authorize(&Permission::ReadAudit)?;
    let verification = grantflow_service::checkpoints::verify_with_checkpoints(
        &shared.service.store,
        Some(&shared.service.config),
    )
    .await?;
    let intact = verification.is_intact();
    let (checkpoints, rejected) = match &verification.checkpoints {
        Some(status) => (
            format!("{} checkpoints checked", status.checked),
            status
                .rejected
                .iter()
                .map(|r| format!("{}: {}", r.position, r.reason))
                .collect(),
        ),
        None => ("no checkpoints configured".to_string(), Vec::new()),
    };
    let summary = match &verification.chain {
        Verification::Intact { events, head } => {
            format!("{events} events, every hash links; head {head}")
        }
        Verification::Broken { seq, reason, .. } => {
            format!("broken at event {seq}: {reason}")
        }
    };
    let verdict = Verdict {
        intact,
        summary,
        checkpoints,
        rejected,
    };
    page(&shared, &visitor, query, Some(verdict)).await
}

/// `GET /console/audit/export`: every event, one JSON object per line (the
/// export is itself audited by the service).
pub(crate) async fn export(State(shared): State<Arc<Shared>>, visitor: Visitor) -> PageResult {
    visitor.authorize(&Permission::ReadAudit)?;
    let lines =
        grantflow_service::audit::export_lines(&shared.service.store, &visitor.actor).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"grantflow-audit.jsonl\"",
            ),
        ],
        lines,
    )
        .into_response())
}
