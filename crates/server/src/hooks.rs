//! Event hooks at `/hooks/{system}/{connection}`: a delivery is verified,
//! authenticated and de-duplicated by its id, then wakes an incremental
//! sync of its connection (the change feed is the source of truth, so late,
//! repeated or out-of-order deliveries cannot corrupt state).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use grantflow_connectors::HookRefusal;
use grantflow_model::ConnectionName;
use grantflow_store::AuditAction;

use crate::Shared;

fn lower_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_ascii_lowercase(),
                value.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn receiver<'a>(
    shared: &'a Shared,
    system: &str,
    connection: &str,
) -> Option<&'a dyn grantflow_connectors::HookReceiver> {
    let connector = shared
        .service
        .connectors
        .get(&ConnectionName::new(connection))?;
    if connector.describe().system.as_str() != system {
        return None;
    }
    connector.hook_receiver()
}

/// The one answer to a hook call that is not for a configured, matching
/// receiver or does not carry its shared secret: a prober learns nothing
/// about which connections exist.
fn not_accepted() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        "the delivery is not authenticated",
    )
}

/// The receiver of `/hooks/{system}/{connection}`, if the call carries its
/// shared secret.
fn authenticated<'a>(
    shared: &'a Shared,
    system: &str,
    connection: &str,
    headers: &HeaderMap,
) -> Option<&'a dyn grantflow_connectors::HookReceiver> {
    let receiver = receiver(shared, system, connection)?;
    receiver
        .authenticate(&lower_headers(headers))
        .then_some(receiver)
}

/// The one-time verification GET: it carries the same shared secret as
/// deliveries, so only the vendor can verify the hook.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    Path((system, connection)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(receiver) = authenticated(&shared, &system, &connection, &headers) else {
        return not_accepted();
    };
    match receiver.verification(&lower_headers(&headers)) {
        Some(answer) => Json(answer).into_response(),
        None => refuse(StatusCode::BAD_REQUEST, "not a verification request"),
    }
}

/// A delivery: authenticated (a shared secret in its headers, or a signature over its raw body checked
/// before it is parsed: BambooHR), de-duplicated on its id, then a sync is queued. A refusal of a configured
/// receiver is audited with its reason, never the body or the secret.
/// The answer comes at once; the vendor's timeout is short (Okta: 3 s).
pub(crate) async fn deliver(
    State(shared): State<Arc<Shared>>,
    Path((system, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(receiver) = receiver(&shared, &system, &connection) else {
        return not_accepted();
    };
    let delivery = match receiver.receive(&lower_headers(&headers), &body, shared.service.now()) {
        Ok(delivery) => delivery,
        Err(HookRefusal::NotAuthenticated { code, reason }) => {
            if let Err(error) = shared
                .service
                .store
                .audit(
                    &system,
                    AuditAction::ApiRefused,
                    &format!("POST /hooks/{system}/{connection}"),
                    serde_json::json!({"status": 401, "code": code, "reason": reason}),
                )
                .await
            {
                tracing::error!(message = "Could not audit a refused hook delivery.", error = %error);
            }
            return not_accepted();
        }
        Err(HookRefusal::Malformed(failure)) => {
            return refuse(StatusCode::BAD_REQUEST, &failure.message());
        }
    };
    match shared
        .service
        .store
        .first_delivery(&connection, &delivery.id)
        .await
    {
        Ok(true) => {
            println!(
                "event hook {connection}: delivery {} with {} event(s)",
                delivery.id, delivery.events
            );
            if system == "okta" {
                start_okta_flows(&shared, &connection, &body).await;
            }
            let _ = shared.wake.send(ConnectionName::new(connection));
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => {
            println!(
                "event hook {connection}: delivery {} already handled; ignored",
                delivery.id
            );
            StatusCode::NO_CONTENT.into_response()
        }
        // Answering 5xx makes the vendor retry, which is what we want when the store is unavailable.
        Err(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

/// Starts the flows an Okta event-hook delivery's events trigger (`data.events`, each a System Log event).
/// Each event starts a flow once, however often Okta delivers it.
async fn start_okta_flows(shared: &Shared, connection: &str, body: &[u8]) {
    let Ok(delivery) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let flows = shared.flows.current();
    if flows.is_empty() {
        return;
    }
    for event in delivery
        .pointer("/data/events")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        match shared
            .service
            .start_flows_for_okta_event(&flows, connection, event)
            .await
        {
            Ok(started) => {
                for run in started {
                    if let grantflow_store::RunStart::Started(run) = run {
                        println!(
                            "event hook {connection}: flow {} run {} started",
                            run.flow, run.id
                        );
                    }
                }
            }
            Err(error) => {
                tracing::error!(message = "Could not start the flows of an Okta event.", error = %error);
            }
        }
    }
}

/// A signed webhook for a flow: `/hooks/flows/{flow}`. A bad signature or a stale timestamp is 401 and
/// audited (never the body); a delivery seen before starts no second run.
pub(crate) async fn flow_webhook(
    State(shared): State<Arc<Shared>>,
    Path(flow): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let flows = shared.flows.current();
    let started = shared
        .service
        .start_flow_from_webhook(
            &flows,
            &flow,
            header(grantflow_workflows::webhook::TIMESTAMP_HEADER),
            header(grantflow_workflows::webhook::SIGNATURE_HEADER),
            &body,
        )
        .await;
    match started {
        Ok(grantflow_store::RunStart::Started(run)) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"run": run.id, "started": true})),
        )
            .into_response(),
        Ok(grantflow_store::RunStart::Duplicate(run)) => (
            StatusCode::OK,
            Json(serde_json::json!({"run": run.id, "started": false})),
        )
            .into_response(),
        Err(grantflow_service::ServiceError::NotFound(_)) => not_accepted(),
        Err(grantflow_service::ServiceError::Refused { code, message }) => {
            if let Err(error) = shared
                .service
                .store
                .audit(
                    "webhook",
                    AuditAction::ApiRefused,
                    &format!("POST /hooks/flows/{flow}"),
                    serde_json::json!({"status": 401, "code": code, "reason": message}),
                )
                .await
            {
                tracing::error!(message = "Could not audit a refused flow webhook.", error = %error);
            }
            not_accepted()
        }
        Err(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}
