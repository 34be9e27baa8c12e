//! Other systems' events that start flows: `POST /hooks/slack/events` (the Slack app's Events API request
//! URL, signed with the app's signing secret and checked as the app's other requests are) and
//! `POST /hooks/jira/{connection}` (a Jira Cloud admin webhook, `X-Hub-Signature` with the configured
//! secret). A refused delivery is a 401 and audited, never with its body; a redelivered event starts no
//! second run.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantflow_service::ServiceError;
use grantflow_service::flows::SlackEventAnswer;
use grantflow_service::slack_app::SignedRequest;
use grantflow_store::{AuditAction, RunStart};
use serde_json::json;

use crate::Shared;
use crate::problem::Problem;

fn started_json(started: &[RunStart]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = started
        .iter()
        .map(|start| match start {
            RunStart::Started(run) => json!({"flow": run.flow, "run": run.id, "started": true}),
            RunStart::Duplicate(run) => json!({"flow": run.flow, "run": run.id, "started": false}),
        })
        .collect();
    json!({ "runs": runs })
}

fn announce(source: &str, started: &[RunStart]) {
    for start in started {
        if let RunStart::Started(run) = start {
            println!("{source}: flow {} run {} started", run.flow, run.id);
        }
    }
}

/// `POST /hooks/slack/events`. The connection is the Slack connection whose signing secret the request
/// verifies with (usually the only one).
pub(crate) async fn slack_events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let connections = shared.service.slack_event_connections();
    let signed = SignedRequest {
        timestamp: headers
            .get("x-slack-request-timestamp")
            .map(|v| v.as_bytes()),
        signature: headers.get("x-slack-signature").map(|v| v.as_bytes()),
        body: &body,
    };
    let now = shared.service.now();
    let connection = connections
        .iter()
        .find(|name| {
            shared
                .service
                .slack_verifier(name)
                .is_ok_and(|v| v.verify(&signed, now).is_ok())
        })
        .or(connections.first());
    let Some(connection) = connection else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no Slack app is configured (a Slack connection's `signing_secret`)".to_string(),
        )
        .into_response();
    };
    // The one verification of the app's requests, with its audited refusal.
    let verified = match crate::slack::verified(&shared, connection, &headers, &body).await {
        Ok(verified) => verified,
        Err(refused) => return refused,
    };
    let flows = shared.flows.current();
    match shared
        .service
        .receive_slack_event(&flows, connection, &verified)
        .await
    {
        Ok(SlackEventAnswer::Challenge(challenge)) => {
            Json(json!({ "challenge": challenge })).into_response()
        }
        Ok(SlackEventAnswer::Event(started)) => {
            announce(&format!("slack event {connection}"), &started);
            Json(started_json(&started)).into_response()
        }
        Err(error) => Problem::from(error).into_response(),
    }
}

/// `POST /hooks/jira/{connection}`: a Jira Cloud webhook delivery.
pub(crate) async fn jira_webhook(
    State(shared): State<Arc<Shared>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let flows = shared.flows.current();
    match shared
        .service
        .receive_jira_webhook(&flows, &connection, signature, &body)
        .await
    {
        Ok(started) => {
            announce(&format!("jira webhook {connection}"), &started);
            Json(started_json(&started)).into_response()
        }
        Err(ServiceError::Refused { code, message }) => {
            if let Err(error) = shared
                .service
                .store
                .audit(
                    "jira",
                    AuditAction::ApiRefused,
                    &format!("POST /hooks/jira/{connection}"),
                    grantflow_service::flows::system_events::refusal_detail(code, &message),
                )
                .await
            {
                tracing::error!(message = "Could not audit a refused Jira webhook.", error = %error);
            }
            Problem::new(StatusCode::UNAUTHORIZED, code, message).into_response()
        }
        Err(error) => Problem::from(error).into_response(),
    }
}
