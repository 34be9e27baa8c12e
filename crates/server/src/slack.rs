//! The Slack app's request URLs: `/slack/{connection}/commands` (the
//! `/grantflow` slash command) and `/slack/{connection}/interactions`
//! (button clicks). Slack signs each with the app's signing secret; the
//! signature and its timestamp are checked over the raw body before
//! anything in it is read, and a forged, replayed or stale one is a 401
//! (audited, without the body). The requests themselves are the service's.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantflow_service::slack_app::{SignedRequest, Verified};
use grantflow_store::AuditAction;

use crate::Shared;
use crate::problem::Problem;

/// Checks the request's signature; the refusal is audited.
pub(crate) async fn verified<'a>(
    shared: &Shared,
    connection: &str,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Response> {
    let verifier = shared
        .service
        .slack_verifier(connection)
        .map_err(|e| Problem::from(e).into_response())?;
    let signed = SignedRequest {
        timestamp: headers
            .get("x-slack-request-timestamp")
            .map(|v| v.as_bytes()),
        signature: headers.get("x-slack-signature").map(|v| v.as_bytes()),
        body,
    };
    match verifier.verify(&signed, shared.service.now()) {
        Ok(verified) => Ok(verified),
        Err(refused) => {
            if let Err(error) = shared
                .service
                .store
                .audit(
                    "slack",
                    AuditAction::ApiRefused,
                    &format!("POST /slack/{connection}"),
                    serde_json::json!({"status": 401, "code": refused.code(), "reason": refused.to_string()}),
                )
                .await
            {
                tracing::error!(message = "Could not audit a refused Slack request.", error = %error);
            }
            Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                refused.code(),
                refused.to_string(),
            )
            .into_response())
        }
    }
}

/// `POST /slack/{connection}/commands`: the slash command; the answer is the reply Slack shows the person.
pub(crate) async fn command(
    State(shared): State<Arc<Shared>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = match verified(&shared, &connection, &headers, &body).await {
        Ok(verified) => verified,
        Err(refused) => return refused,
    };
    match shared.service.slack_command(&connection, &verified).await {
        Ok(reply) => Json(reply).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}

/// `POST /slack/{connection}/interactions`: a button click; Slack wants a quick empty 200.
pub(crate) async fn interaction(
    State(shared): State<Arc<Shared>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = match verified(&shared, &connection, &headers, &body).await {
        Ok(verified) => verified,
        Err(refused) => return refused,
    };
    match shared
        .service
        .slack_interaction(&connection, &verified)
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}
