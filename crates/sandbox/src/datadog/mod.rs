//! Datadog Monitors API emulator: `GET /api/v1/monitor` with `DD-API-KEY` and `DD-APPLICATION-KEY`,
//! Datadog's monitor JSON, its `monitor_tags`/`tags`/`name`/`id_offset`/`page`/`page_size` filters, its
//! `{"errors": [...]}` bodies, and its `X-RateLimit-*` headers (429 when the window's budget is spent);
//! `GET /api/v1/validate`, which checks the API key alone. Besides the shared admin endpoints
//! (`crate::emulator`), `/__sandbox/monitors` reads and replaces the monitors.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::emulator::{
    AdminError, Core, CoreAdmin, Emulator, EmulatorConfig, Seeded, Writes, credentials, set_header,
};
use crate::hand_change::HandChange;

/// What the Datadog emulator is seeded with: monitors in the shape `GET /api/v1/monitor` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatadogSeed {
    #[serde(default)]
    pub monitors: Vec<Value>,
}

/// Datadog caps `page_size` at 1000.
const MAX_PAGE_SIZE: usize = 1000;

/// Datadog limits each endpoint on its own and names the limit (`X-RateLimit-Name`); neither limit is
/// published, so these are generous.
const BUCKETS: &[(&str, u32)] = &[("monitor", 3000), ("validate", 3000)];

/// The page size when `page` is given without one (Datadog's documented default).
const DEFAULT_PAGE_SIZE: usize = 100;

/// The monitors the emulator serves; the API only reads them, so no write is ever counted.
#[derive(Debug, Default)]
pub struct Monitors {
    monitors: Vec<Value>,
    writes: Writes,
}

impl Seeded for Monitors {
    type Seed = DatadogSeed;

    fn seeded(seed: &DatadogSeed, _now: DateTime<Utc>) -> Self {
        Monitors {
            monitors: seed.monitors.clone(),
            writes: Writes::default(),
        }
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

/// One emulated Datadog organisation.
#[derive(Debug)]
pub struct Datadog {
    pub api_key: String,
    pub application_key: String,
    core: Core<Monitors>,
}

fn hex_key(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Emulator for Datadog {
    const KIND: &'static str = "datadog";
    type Seed = DatadogSeed;

    /// `config.token` (when given) is the API key.
    fn start(seed: &DatadogSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Datadog {
            api_key: config.token_or(|| hex_key(32)),
            application_key: hex_key(40),
            core: config.core(seed, config.windows(BUCKETS)),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([
            ("api_key", &self.api_key),
            ("application_key", &self.application_key),
        ])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        Router::new()
            .route("/api/v1/monitor", get(list_monitors))
            .route("/api/v1/validate", get(validate))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
            .layer(middleware::from_fn_with_state(this.clone(), datadog_layer))
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route(
            "/__sandbox/monitors",
            get(admin_monitors).post(admin_set_monitors),
        )
    }

    /// Monitors have no members: there is nothing an administrator could grant or take away by hand.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        Err(format!(
            "datadog has no accounts or grants to change by hand (user {})",
            change.user()
        ))
    }
}

/// Datadog's rate-limit headers on every answer, 429 once the window's budget is spent, and injected faults.
async fn datadog_layer(State(dd): State<Arc<Datadog>>, req: Request, next: Next) -> Response {
    let bucket = if req.uri().path() == "/api/v1/validate" {
        "validate"
    } else {
        "monitor"
    };
    let decision = dd.core.limits().charge(bucket, dd.core.now());
    let mut resp = if !decision.allowed {
        error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
    } else if let Some(status) = dd
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        error(status, "Internal Server Error")
    } else {
        next.run(req).await
    };
    let period = dd.core.limits().window_seconds();
    set_header(&mut resp, "x-ratelimit-limit", &decision.limit.to_string());
    set_header(&mut resp, "x-ratelimit-period", &period.to_string());
    set_header(
        &mut resp,
        "x-ratelimit-remaining",
        &decision.remaining.to_string(),
    );
    set_header(
        &mut resp,
        "x-ratelimit-reset",
        &decision.retry_after.to_string(),
    );
    set_header(&mut resp, "x-ratelimit-name", bucket);
    resp
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "errors": [message] }))).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: Option<String>,
    #[serde(default)]
    monitor_tags: Option<String>,
    #[serde(default)]
    id_offset: Option<i64>,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    page_size: Option<usize>,
    #[serde(default)]
    group_states: Option<String>,
    #[serde(default)]
    with_downtimes: Option<bool>,
}

fn has_all_tags(monitor: &Value, wanted: &str) -> bool {
    let tags: Vec<&str> = monitor
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    wanted
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .all(|w| tags.contains(&w))
}

/// Scope tags (`tags=`) are matched against the `{...}` scopes in the monitor's query.
fn query_has_scopes(monitor: &Value, wanted: &str) -> bool {
    let query = monitor.get("query").and_then(Value::as_str).unwrap_or("");
    wanted
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .all(|w| query.contains(w))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `GET /api/v1/validate`: Datadog checks the API key only ("not the APP key"), and answers 403 otherwise.
async fn validate(State(dd): State<Arc<Datadog>>, headers: HeaderMap) -> Response {
    if header(&headers, "DD-API-KEY") != Some(dd.api_key.as_str()) {
        return error(StatusCode::FORBIDDEN, "Forbidden");
    }
    Json(json!({ "valid": true })).into_response()
}

async fn list_monitors(
    State(dd): State<Arc<Datadog>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // Reads need both keys; a wrong one of either is the same 403.
    if header(&headers, "DD-API-KEY") != Some(dd.api_key.as_str())
        || header(&headers, "DD-APPLICATION-KEY") != Some(dd.application_key.as_str())
    {
        return error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "Invalid query parameters");
    };
    let _ = (&q.group_states, q.with_downtimes);
    if q.page_size.is_some_and(|s| s > MAX_PAGE_SIZE) {
        return error(
            StatusCode::BAD_REQUEST,
            "page_size must be less than or equal to 1000",
        );
    }
    let mut monitors: Vec<Value> = dd
        .core
        .state()
        .monitors
        .iter()
        .filter(|m| {
            q.name.as_deref().is_none_or(|n| {
                m.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.to_lowercase().contains(&n.to_lowercase()))
            })
        })
        .filter(|m| q.monitor_tags.as_deref().is_none_or(|t| has_all_tags(m, t)))
        .filter(|m| q.tags.as_deref().is_none_or(|t| query_has_scopes(m, t)))
        .filter(|m| {
            q.id_offset.is_none_or(|offset| {
                m.get("id")
                    .and_then(Value::as_i64)
                    .is_some_and(|id| id > offset)
            })
        })
        .cloned()
        .collect();
    monitors.sort_by_key(|m| m.get("id").and_then(Value::as_i64).unwrap_or(0));
    // As documented: without `page` every monitor is returned whatever `page_size` says; with it, pages
    // count from 0 and hold `page_size` (100 when not given).
    if let Some(page) = q.page {
        let size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        monitors = monitors
            .into_iter()
            .skip(page.saturating_mul(size))
            .take(size)
            .collect();
    }
    Json(monitors).into_response()
}

async fn admin_monitors(State(dd): State<Arc<Datadog>>) -> Response {
    Json(json!({ "monitors": dd.core.state().monitors })).into_response()
}

/// `POST /__sandbox/monitors {"monitors": [...]}`: replaces every monitor.
async fn admin_set_monitors(State(dd): State<Arc<Datadog>>, body: Bytes) -> Response {
    match serde_json::from_slice::<DatadogSeed>(&body) {
        Ok(seed) => {
            dd.core.state().monitors = seed.monitors;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => AdminError::new(format!("monitors: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(router: &Router, uri: &str, keys: Option<(&str, &str)>) -> (StatusCode, Value) {
        let mut request = Request::get(uri);
        if let Some((api, app)) = keys {
            request = request
                .header("DD-API-KEY", api)
                .header("DD-APPLICATION-KEY", app);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json body"))
    }

    fn ids(body: &Value) -> Vec<i64> {
        body.as_array()
            .expect("array")
            .iter()
            .filter_map(|m| m["id"].as_i64())
            .collect()
    }

    #[tokio::test]
    async fn monitors_need_both_keys_and_filter_by_service_tag_like_datadog() {
        let dd = Datadog::start(
            &crate::demo_reach::datadog_seed(),
            EmulatorConfig::default(),
        );
        let router = crate::emulator::router(&dd);
        let keys = Some((dd.api_key.as_str(), dd.application_key.as_str()));
        let (status, body) = get(&router, "/api/v1/monitor", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"errors": ["Forbidden"]}));
        let (status, _) = get(
            &router,
            "/api/v1/monitor",
            Some((dd.api_key.as_str(), "wrong")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, all) = get(&router, "/api/v1/monitor", keys).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&all), vec![4012871, 4012872, 4019930, 4020001]);
        assert_eq!(all[0]["overall_state"], "OK");
        assert_eq!(all[0]["type"], "query alert");

        let (_, checkout) = get(
            &router,
            "/api/v1/monitor?monitor_tags=service:checkout-api,env:prod",
            keys,
        )
        .await;
        assert_eq!(ids(&checkout), vec![4012871, 4012872]);
        let (_, named) = get(&router, "/api/v1/monitor?name=graph%20connector", keys).await;
        assert_eq!(ids(&named), vec![4019930]);
        let (_, paged) = get(&router, "/api/v1/monitor?page=1&page_size=2", keys).await;
        assert_eq!(ids(&paged), vec![4019930, 4020001]);
        let (_, past) = get(&router, "/api/v1/monitor?page=2&page_size=2", keys).await;
        assert_eq!(ids(&past), Vec::<i64>::new());
        let (_, unpaged) = get(&router, "/api/v1/monitor?page_size=1", keys).await;
        assert_eq!(
            ids(&unpaged).len(),
            4,
            "page_size without page pages nothing"
        );
        let (_, huge) = get(
            &router,
            &format!("/api/v1/monitor?page={}&page_size=1000", usize::MAX),
            keys,
        )
        .await;
        assert_eq!(ids(&huge), Vec::<i64>::new());
        let (_, after) = get(&router, "/api/v1/monitor?id_offset=4012872", keys).await;
        assert_eq!(ids(&after), vec![4019930, 4020001]);
        let (status, body) = get(&router, "/api/v1/monitor?page=0&page_size=5000", keys).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["errors"][0]
                .as_str()
                .is_some_and(|e| e.contains("page_size"))
        );
    }

    #[tokio::test]
    async fn validate_checks_the_api_key_alone() {
        let dd = Datadog::start(
            &crate::demo_reach::datadog_seed(),
            EmulatorConfig::default(),
        );
        let router = crate::emulator::router(&dd);
        let (status, body) = get(
            &router,
            "/api/v1/validate",
            Some((dd.api_key.as_str(), "not-the-application-key")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"valid": true}));
        let (status, body) = get(
            &router,
            "/api/v1/validate",
            Some(("wrong", dd.application_key.as_str())),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"errors": ["Forbidden"]}));
        let (status, _) = get(&router, "/api/v1/validate", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
