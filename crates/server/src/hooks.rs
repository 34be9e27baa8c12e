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
