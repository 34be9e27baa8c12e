//! AWS IAM Identity Center emulator: `identitystore`, `sso-admin` and the two Organizations reads production
//! reach needs (`ListAccounts`, `ListTagsForResource`) on one port, all in the AWS JSON 1.1 protocol (`POST /`,
//! `X-Amz-Target: AWSIdentityStore.<Op>`, `SWBExternalService.<Op>` or `AWSOrganizationsV20161128.<Op>`, the
//! target prefixes in botocore's service models). A SigV4 `Authorization` header must name the sandbox's access key id; the
//! signature itself is not checked. Account assignment requests answer `IN_PROGRESS` for a configurable number
//! of status answers or seconds (whichever comes first), then `SUCCEEDED` (or `FAILED` for an unknown permission
//! set or account).
//!
//! Admin endpoints of its own, besides the shared ones (`crate::emulator`): `POST /__sandbox/assignments
//! {"in_progress_reads": N, "in_progress_seconds": S}` (S optional) and `POST /__sandbox/throttle
//! {"requests": N}` (the next N API calls fail with `ThrottlingException`). Changes by hand:
//! `Inner::hand_change`.

mod ops;
mod seed;
mod state;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::Rng;
use serde_json::Value;

pub use seed::{
    AwsSeed, AwsSeedAccount, AwsSeedAssignment, AwsSeedGroup, AwsSeedPermissionSet, AwsSeedUser,
};
pub use state::Aws;

use crate::emulator::{
    AdminBody, AdminError, CoreAdmin, Emulator, EmulatorConfig, Now, bounds, credentials,
    json_response,
};
use crate::hand_change::HandChange;
use ops::AwsError;

fn random(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

impl Emulator for Aws {
    const KIND: &'static str = "aws";
    type Seed = AwsSeed;

    /// `config.token` (when given) is the access key id clients sign with.
    fn start(seed: &AwsSeed, config: EmulatorConfig) -> Arc<Self> {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Arc::new(Aws {
            core: config.core(seed, config.windows(state::BUCKETS)),
            access_key_id: config.token_or(|| format!("AKIA{}", random(16, UPPER))),
            secret_access_key: random(40, SECRET),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([
            ("access_key_id", &self.access_key_id),
            ("secret_access_key", &self.secret_access_key),
        ])
    }

    /// The seeded accounts' names, which grantflow's `account_names` setting carries because Identity
    /// Center has no call that lists them.
    fn settings(&self) -> serde_json::Map<String, serde_json::Value> {
        let names: serde_json::Map<String, serde_json::Value> = self
            .core
            .state()
            .account_names
            .iter()
            .map(|(id, name)| (id.clone(), name.clone().into()))
            .collect();
        let mut settings = serde_json::Map::new();
        if !names.is_empty() {
            settings.insert("account_names".into(), names.into());
        }
        settings
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(_: &Arc<Self>) -> Router<Arc<Self>> {
        Router::new().route("/", post(call)).fallback(|| async {
            AwsError::new("UnknownOperationException", "")
                .with_status(StatusCode::NOT_FOUND)
                .into_response()
        })
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route("/__sandbox/assignments", post(set_in_progress))
            .route("/__sandbox/throttle", post(throttle))
    }

    /// See `Inner::hand_change`.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        let now = self.core.now();
        let mut inner = self.core.state();
        inner.sweep(now);
        inner.hand_change(change)
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

/// `POST /__sandbox/assignments {"in_progress_reads": N, "in_progress_seconds": S}`.
async fn set_in_progress(State(s): State<Arc<Aws>>, body: Bytes) -> Response {
    let read = |b: AdminBody| -> Result<(u32, Option<f64>), AdminError> {
        let reads = b
            .uint("in_progress_reads", 0..=bounds::COUNT)?
            .ok_or_else(|| AdminError::field("in_progress_reads", "is required"))?;
        let seconds = b.number("in_progress_seconds", 0.0..=86_400.0)?;
        Ok((u32::try_from(reads).unwrap_or(u32::MAX), seconds))
    };
    let (reads, seconds) =
        match AdminBody::parse(&body, &["in_progress_reads", "in_progress_seconds"]).and_then(read)
        {
            Ok(settings) => settings,
            Err(e) => return e.into_response(),
        };
    let mut inner = s.core.state();
    inner.set_in_progress(reads, seconds);
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "in_progress_reads": inner.in_progress_reads,
            "in_progress_seconds": inner.in_progress_seconds,
        }),
    )
}

/// `POST /__sandbox/throttle {"requests": N}`: the next N API calls fail with `ThrottlingException`.
async fn throttle(State(s): State<Arc<Aws>>, body: Bytes) -> Response {
    let requests = match AdminBody::parse(&body, &["requests"]).and_then(|b| {
        b.uint("requests", 0..=bounds::COUNT)?
            .ok_or_else(|| AdminError::field("requests", "is required"))
    }) {
        Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
        Err(e) => return e.into_response(),
    };
    s.core.state().throttle_next = requests;
    json_response(StatusCode::OK, &serde_json::json!({"requests": requests}))
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

async fn call(
    State(s): State<Arc<Aws>>,
    Now(now): Now,
    headers: HeaderMap,
    req: Request,
) -> Response {
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
        Some(("AWSOrganizationsV20161128", op)) => ("organizations", op.to_owned()),
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
        let mut inner = s.core.state();
        let forced = inner.throttle_next > 0;
        if forced {
            inner.throttle_next -= 1;
        }
        forced || !s.core.limits().charge(service, now).allowed
    };
    if throttled {
        return AwsError::new("ThrottlingException", "Rate exceeded").into_response();
    }
    if let Some(status) = s
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
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
    let mut inner = s.core.state();
    inner.sweep(now);
    let result = match service {
        "identitystore" => ops::identity_store(&op, &mut inner, &body),
        "organizations" => ops::organizations(&op, &inner, &body),
        _ => ops::sso_admin(&op, &mut inner, &body, now),
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
