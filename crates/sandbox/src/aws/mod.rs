//! AWS IAM Identity Center emulator: `identitystore` and `sso-admin` on one port, both in the AWS JSON 1.1
//! protocol (`POST /`, `X-Amz-Target: AWSIdentityStore.<Op>` or `SWBExternalService.<Op>`, the target prefixes
//! in botocore's service models). A SigV4 `Authorization` header must name the sandbox's access key id; the
//! signature itself is not checked. Account assignment requests answer `IN_PROGRESS` for a configurable number
//! of status answers or seconds (whichever comes first), then `SUCCEEDED` (or `FAILED` for an unknown permission
//! set or account).
//!
//! Admin endpoints besides the shared ones: `POST /__sandbox/assignments {"in_progress_reads": N,
//! "in_progress_seconds": S}` (S optional),
//! `POST /__sandbox/throttle {"requests": N}` (the next N API calls fail with `ThrottlingException`) and
//! `POST /__sandbox/hand-change` (`crate::hand_change`, see `Inner::hand_change`).

mod ops;
mod seed;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::Rng;
use serde_json::Value;

pub use seed::{
    AwsSeed, AwsSeedAccount, AwsSeedAssignment, AwsSeedGroup, AwsSeedPermissionSet, AwsSeedUser,
};
pub use state::Aws;

use crate::emulator::{
    AdminState, Controls, EmulatorConfig, Now, admin_error, admin_routes, from_loopback,
    injected_failure, json_response, lock, parse_admin,
};
use ops::AwsError;

/// How to run one emulated Identity Center; `token` (when given) is the access key id.
pub type AwsConfig = EmulatorConfig;

fn random(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// Builds the emulator for `seed`; returns the router and the instance (its keys are what clients sign with).
pub fn aws_router(seed: &AwsSeed, config: AwsConfig) -> (Router, Arc<Aws>) {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let access_key_id = config
        .token
        .unwrap_or_else(|| format!("AKIA{}", random(16, UPPER)));
    let aws = Arc::new(Aws::new(
        seed.clone(),
        access_key_id,
        random(40, SECRET),
        config.clock,
        config.rate_limit_window_seconds,
    ));
    (router(aws.clone()), aws)
}

impl AdminState for Aws {
    fn controls(&self) -> &Controls {
        &self.controls
    }
    fn writes(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).writes.clone()
    }
    fn reset(&self) {
        Aws::reset(self);
    }
}

pub(crate) fn json_1_1(status: StatusCode, body: &Value) -> Response {
    let mut resp = json_response(status, body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentsBody {
    in_progress_reads: u32,
    #[serde(default)]
    in_progress_seconds: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleBody {
    requests: u32,
}

fn router(aws: Arc<Aws>) -> Router {
    Router::new()
        .route("/", post(call))
        .route(
            "/__sandbox/assignments",
            post(|State(s): State<Arc<Aws>>, body: Bytes| async move {
                let b: AssignmentsBody = match parse_admin(&body) {
                    Ok(b) => b,
                    Err(e) => return admin_error(e),
                };
                if b.in_progress_seconds
                    .is_some_and(|s| !(0.0..=86_400.0).contains(&s))
                {
                    return admin_error("in_progress_seconds must be between 0 and 86400".into());
                }
                let mut inner = lock(&s.inner);
                inner.set_in_progress(b.in_progress_reads, b.in_progress_seconds);
                json_response(
                    StatusCode::OK,
                    &serde_json::json!({
                        "in_progress_reads": inner.in_progress_reads,
                        "in_progress_seconds": inner.in_progress_seconds,
                    }),
                )
            }),
        )
        .route(
            "/__sandbox/throttle",
            post(|State(s): State<Arc<Aws>>, body: Bytes| async move {
                let b: ThrottleBody = match parse_admin(&body) {
                    Ok(b) => b,
                    Err(e) => return admin_error(e),
                };
                lock(&s.inner).throttle_next = b.requests;
                json_response(StatusCode::OK, &serde_json::json!({"requests": b.requests}))
            }),
        )
        .route(
            "/__sandbox/hand-change",
            post(|State(s): State<Arc<Aws>>, body: Bytes| async move {
                let now = s.clock.now();
                crate::hand_change::handle(&body, |change| {
                    let mut inner = lock(&s.inner);
                    inner.sweep(now);
                    inner.hand_change(change)
                })
            }),
        )
        .merge(admin_routes::<Aws>())
        .fallback(|| async {
            AwsError::new("UnknownOperationException", "")
                .with_status(StatusCode::NOT_FOUND)
                .into_response()
        })
        .layer(middleware::from_fn_with_state(aws.clone(), aws_layer))
        .with_state(aws)
}

async fn aws_layer(State(s): State<Arc<Aws>>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(Now(s.clock.now()));
    if req.uri().path().starts_with("/__sandbox") && !from_loopback(&req) {
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(req).await
}

/// The access key id from `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, …`.
fn access_key(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))?;
    credential.split('/').next()
}

fn auth_error(s: &Aws, headers: &HeaderMap) -> Option<AwsError> {
    match access_key(headers) {
        None => Some(
            AwsError::new(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
            .with_status(StatusCode::FORBIDDEN),
        ),
        Some(key) if key != s.access_key_id => Some(
            AwsError::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
            .with_status(StatusCode::FORBIDDEN),
        ),
        Some(_) => None,
    }
}

async fn call(State(s): State<Arc<Aws>>, headers: HeaderMap, req: Request) -> Response {
    let now = req
        .extensions()
        .get::<Now>()
        .map(|n| n.0)
        .unwrap_or_else(|| s.clock.now());
    let body: Bytes = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return AwsError::new("SerializationException", "Request too large")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .into_response();
        }
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (service, op) = match target.split_once('.') {
        Some(("AWSIdentityStore", op)) => ("identitystore", op.to_owned()),
        Some(("SWBExternalService", op)) => ("sso", op.to_owned()),
        _ => {
            return AwsError::new(
                "UnknownOperationException",
                format!("Unknown X-Amz-Target {target:?}"),
            )
            .into_response();
        }
    };
    if let Some(e) = auth_error(&s, &headers) {
        return e.into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-amz-json-1.1") {
        return AwsError::new(
            "SerializationException",
            format!(
                "Unsupported Content-Type {content_type:?}; expected application/x-amz-json-1.1"
            ),
        )
        .into_response();
    }
    let throttled = {
        let mut inner = lock(&s.inner);
        let forced = inner.throttle_next > 0;
        if forced {
            inner.throttle_next -= 1;
        }
        forced || !lock(&s.controls.limiter).charge(service, now).allowed
    };
    if throttled {
        return AwsError::new("ThrottlingException", "Rate exceeded").into_response();
    }
    let faults = lock(&s.controls.faults).clone();
    if let Some(status) = injected_failure(&faults).await {
        let error = if status == StatusCode::SERVICE_UNAVAILABLE {
            AwsError::new("ServiceUnavailableException", "Service is unavailable")
        } else {
            AwsError::new(
                "InternalServerException",
                "The request processing has failed because of an unknown error, exception or failure.",
            )
        };
        return error.with_status(status).into_response();
    }
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return AwsError::new(
                    "SerializationException",
                    "Request body is not a JSON object",
                )
                .into_response();
            }
        }
    };
    let mut inner = lock(&s.inner);
    inner.sweep(now);
    let result = if service == "identitystore" {
        ops::identity_store(&op, &mut inner, &body)
    } else {
        ops::sso_admin(&op, &mut inner, &body, now)
    };
    match result {
        Ok(v) => {
            let mut resp = json_1_1(StatusCode::OK, &v);
            crate::emulator::set_header(
                &mut resp,
                "x-amzn-requestid",
                &uuid::Uuid::new_v4().to_string(),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}
