//! The audit trail: events page by page, verification, export.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use grantflow_service::access::{self, Permission};
use grantflow_store::Verification;

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

/// Audit events, oldest first.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventsQuery),
    responses((status = 200, description = "A page of events", body = EventsPage)))]
pub(crate) async fn audit_events(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    access::authorize(&actor, &Permission::ReadAudit)?;
    let limit = page_limit(query.limit)?;
    let after = match decode_cursor("events", query.cursor.as_deref())? {
        None => 0,
        Some(seq) => seq
            .parse::<i64>()
            .map_err(|_| Problem::invalid("the cursor is not one this list gave out"))?,
    };
    let mut events = shared
        .service
        .store
        .audit_page(
            query.action.as_deref(),
            query.actor.as_deref(),
            after,
            limit as i64 + 1,
        )
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    let next_cursor = if events.len() > limit {
        events.truncate(limit);
        events
            .last()
            .map(|e| encode_cursor("events", &e.seq.to_string()))
    } else {
        None
    };
    Ok(Json(EventsPage {
        items: events.into_iter().map(AuditEvent::from).collect(),
        next_cursor,
    }))
}

/// Checks the hash chain, and against every signed checkpoint when configured.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "The verdict (intact or where it breaks)", body = AuditVerification)))]
pub(crate) async fn audit_verify(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<AuditVerification>> {
    access::authorize(&actor, &Permission::ReadAudit)?;
    let verification = grantflow_service::checkpoints::verify_with_checkpoints(
        &shared.service.store,
        Some(&shared.service.config),
    )
    .await?;
    let rejected_checkpoints = verification
        .checkpoints
        .as_ref()
        .map(|s| {
            s.rejected
                .iter()
                .map(|r| format!("{}: {}", r.position, r.reason))
                .collect()
        })
        .unwrap_or_default();
    let checkpoints_checked = verification.checkpoints.as_ref().map(|s| s.checked as u64);
    let intact = verification.is_intact();
    Ok(Json(match verification.chain {
        Verification::Intact { events, head } => AuditVerification {
            intact,
            events: Some(events as u64),
            head: Some(head),
            broken_at: None,
            reason: None,
            checkpoints_checked,
            rejected_checkpoints,
        },
        Verification::Broken { seq, reason, .. } => AuditVerification {
            intact,
            events: None,
            head: None,
            broken_at: Some(seq),
            reason: Some(reason),
            checkpoints_checked,
            rejected_checkpoints,
        },
    }))
}

/// Every event as JSON Lines (one event per line); the export is audited.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit",
    responses((status = 200, description = "Every event, one JSON object per line", body = String,
        content_type = "application/jsonl")))]
pub(crate) async fn audit_export(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Response> {
    access::authorize(&actor, &Permission::ReadAudit)?;
    let lines = grantflow_service::audit::export_lines(&shared.service.store, &actor).await?;
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], lines).into_response())
}
