//! BambooHR API emulator: the employee directory (`GET /api/v1/employees/directory`, `onlyCurrent`), one
//! employee's fields (`GET /api/v1/employees/{id}?fields=…`, id `0` being the API key's own employee, both
//! the classic field names — `jobTitle`, `supervisorEId`, `supervisor` — and the OpenAPI aliases —
//! `jobTitleName`, `reportsToId`, `reportsToName`), the change feed (`GET /api/v1/employees/changed`, an
//! object keyed by employee id) and webhook administration (`/api/v1/webhooks`, whose create answers the
//! `privateKey` once). HTTP Basic with the API key as the user name (401 without), JSON only with
//! `Accept: application/json` (BambooHR answers XML otherwise; this emulator answers 406), errors in
//! `X-BambooHR-Error-Message`, 429 with `Retry-After` when the window's budget is spent. The same API is
//! served under the legacy `/api/gateway.php/{company}/v1/` prefix older clients use.
//!
//! Besides the shared admin endpoints (`crate::emulator`), `POST /__sandbox/employees` adds or changes an
//! employee as someone in BambooHR's own screens would: the change feed records it and every webhook whose
//! monitored fields it touches is delivered, signed (`X-BambooHR-Timestamp`, Unix seconds, and
//! `X-BambooHR-Signature`, the hex HMAC-SHA256 of the body followed by the timestamp, keyed with the
//! webhook's private key), to the webhook's URL. `POST /__sandbox/webhooks/{id}` points a webhook at a URL.

mod api;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::emulator::{
    Core, CoreAdmin, Emulator, EmulatorConfig, credentials, random_token, set_header,
};
use crate::hand_change::HandChange;

pub use state::{Employees, Webhook, sign};

/// What the BambooHR emulator is seeded with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BamboohrSeed {
    /// The company's subdomain (`{company_domain}.bamboohr.com`).
    #[serde(default = "default_domain")]
    pub company_domain: String,
    /// Employees by BambooHR's field names (`id`, `firstName`, `workEmail`, `hireDate`, `jobTitle`,
    /// `supervisorEId`, …).
    #[serde(default)]
    pub employees: Vec<Map<String, Value>>,
}

fn default_domain() -> String {
    "demo".into()
}

/// BambooHR publishes no numbers; generous for the sandbox.
const BUCKETS: &[(&str, u32)] = &[("api", 3000)];

/// One emulated BambooHR company.
#[derive(Debug)]
pub struct Bamboohr {
    pub api_key: String,
    /// The private key of the webhook the sandbox starts with (id 1, no URL until one is set), which a
    /// grantflow connection is configured with.
    pub webhook_private_key: String,
    pub company_domain: String,
    core: Core<Employees>,
    http: reqwest::Client,
}

impl Emulator for Bamboohr {
    const KIND: &'static str = "bamboohr";
    type Seed = BamboohrSeed;

    /// `config.token` (when given) is the API key.
    fn start(seed: &BamboohrSeed, config: EmulatorConfig) -> Arc<Self> {
        let api_key = config.token_or(|| random_token("", 40).to_lowercase());
        let webhook_private_key = random_token("", 32);
        let core: Core<Employees> = config.core(seed, config.windows(BUCKETS));
        core.state().start_webhook(&webhook_private_key, core.now());
        Arc::new(Bamboohr {
            api_key,
            webhook_private_key,
            company_domain: seed.company_domain.clone(),
            core,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([
            ("api_key", &self.api_key),
            ("webhook_private_key", &self.webhook_private_key),
        ])
    }

    fn settings(&self) -> Map<String, Value> {
        Map::from_iter([(
            "company_domain".to_string(),
            Value::String(self.company_domain.clone()),
        )])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn reset(&self) {
        self.core.reset();
        self.core
            .state()
            .start_webhook(&self.webhook_private_key, self.core.now());
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        let v1 = || {
            Router::new()
                .route("/employees/directory", get(api::directory))
                .route("/employees/changed", get(api::changed))
                .route("/employees/changed/", get(api::changed))
                .route("/employees/{id}", get(api::employee))
                .route("/employees/{id}/", get(api::employee))
                .route(
                    "/webhooks",
                    get(api::list_webhooks).post(api::create_webhook),
                )
                .route(
                    "/webhooks/",
                    get(api::list_webhooks).post(api::create_webhook),
                )
                .route("/webhooks/monitor_fields", get(api::monitor_fields))
                .route(
                    "/webhooks/{id}",
                    get(api::get_webhook)
                        .put(api::update_webhook)
                        .delete(api::delete_webhook),
                )
        };
        Router::new()
            .nest("/api/v1", v1())
            .nest("/api/gateway.php/{company}/v1", v1())
            .fallback(|| async { api::error(StatusCode::NOT_FOUND, "Not found") })
            .layer(middleware::from_fn_with_state(this.clone(), bamboohr_layer))
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route(
                "/__sandbox/employees",
                get(api::admin_employees).post(api::admin_change_employee),
            )
            .route("/__sandbox/webhooks/{id}", post(api::admin_point_webhook))
    }

    /// BambooHR grants nothing: there is no access to change by hand (employees change through
    /// `/__sandbox/employees`).
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        Err(format!(
            "bamboohr has no grants to change by hand (user {}); change an employee with POST /__sandbox/employees",
            change.user()
        ))
    }
}

/// The API key from `Authorization: Basic base64(key:anything)`.
fn api_key(headers: &HeaderMap) -> Option<String> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(
        text.split_once(':')
            .map_or(text.clone(), |(k, _)| k.to_string()),
    )
}

/// Rate limit, injected faults, Basic auth and the JSON `Accept`, in BambooHR's order.
async fn bamboohr_layer(State(b): State<Arc<Bamboohr>>, req: Request, next: Next) -> Response {
    let decision = b.core.limits().charge("api", b.core.now());
    if !decision.allowed {
        let mut resp = api::error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        set_header(
            &mut resp,
            "retry-after",
            &decision.retry_after.max(1).to_string(),
        );
        return resp;
    }
    if let Some(status) = b
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        return api::error(status, "Internal Server Error");
    }
    if api_key(req.headers()).is_none_or(|key| key.is_empty() || key != b.api_key) {
        let mut resp = (StatusCode::UNAUTHORIZED, "").into_response();
        set_header(&mut resp, "www-authenticate", "Basic realm=\"BambooHR\"");
        return resp;
    }
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if !wants_json {
        return api::error(
            StatusCode::NOT_ACCEPTABLE,
            "This emulator answers JSON only: send Accept: application/json",
        );
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use serde_json::json;
    use tower::ServiceExt;

    fn basic(key: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:x"))
        )
    }

    async fn call(
        router: &Router,
        method: &str,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .header("accept", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", basic(key));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        let response = router
            .clone()
            .oneshot(request.expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }

    fn demo() -> (Arc<Bamboohr>, Router) {
        let seed = crate::demo_org()
            .bamboohr
            .expect("the demo org has BambooHR");
        let b = Bamboohr::start(&seed, EmulatorConfig::default());
        let router = crate::emulator::router(&b);
        (b, router)
    }

    #[tokio::test]
    async fn basic_auth_with_the_api_key_and_json_are_required() {
        let (b, router) = demo();
        let (status, headers, _) =
            call(&router, "GET", "/api/v1/employees/directory", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key("www-authenticate"));
        let (status, _, _) = call(
            &router,
            "GET",
            "/api/v1/employees/directory",
            Some("wrong"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let xml = router
            .clone()
            .oneshot(
                HttpRequest::get("/api/v1/employees/directory")
                    .header("authorization", basic(&b.api_key))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(xml.status(), StatusCode::NOT_ACCEPTABLE);
        assert!(xml.headers().contains_key("x-bamboohr-error-message"));
    }

    #[tokio::test]
    async fn the_directory_employee_fields_and_change_feed_answer_as_bamboohr_does() {
        let (b, router) = demo();
        let key = Some(b.api_key.as_str());
        let (status, _, current) =
            call(&router, "GET", "/api/v1/employees/directory", key, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(current["employees"].as_array().map(Vec::len), Some(29));
        assert!(current["fields"].as_array().is_some_and(|f| !f.is_empty()));
        let (_, _, all) = call(
            &router,
            "GET",
            "/api/gateway.php/demo/v1/employees/directory?onlyCurrent=false",
            key,
            None,
        )
        .await;
        assert_eq!(all["employees"].as_array().map(Vec::len), Some(30));

        let (_, _, lena) = call(
            &router,
            "GET",
            "/api/v1/employees/103?fields=jobTitle,jobTitleName,supervisorEId,reportsToId,supervisor,terminationDate,nonsense",
            key,
            None,
        )
        .await;
        assert_eq!(
            lena,
            json!({"id": "103", "jobTitle": "Senior Engineer", "jobTitleName": "Senior Engineer",
                   "supervisorEId": "101", "reportsToId": "101", "supervisor": "Raman, Priya",
                   "terminationDate": "0000-00-00"})
        );
        let (_, _, me) = call(&router, "GET", "/api/v1/employees/0", key, None).await;
        assert_eq!(
            me,
            json!({"id": "99", "firstName": "Former", "lastName": "Engineer"})
        );
        let (status, headers, _) = call(&router, "GET", "/api/v1/employees/5", key, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.contains_key("x-bamboohr-error-message"));

        let (status, _, _) = call(&router, "GET", "/api/v1/employees/changed", key, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "since is required");
        let (_, _, everything) = call(
            &router,
            "GET",
            "/api/v1/employees/changed?since=2000-01-01T00:00:00Z",
            key,
            None,
        )
        .await;
        let feed = everything["employees"]
            .as_object()
            .expect("an object keyed by id");
        assert_eq!(feed.len(), 30);
        assert_eq!(feed["103"]["action"], "Inserted");
        assert!(
            everything["latest"]
                .as_str()
                .is_some_and(|l| l.ends_with("+00:00"))
        );
    }

    #[tokio::test]
    async fn a_webhook_shows_its_private_key_once_and_a_change_is_recorded() {
        let (b, router) = demo();
        let key = Some(b.api_key.as_str());
        let (status, _, created) = call(
            &router,
            "POST",
            "/api/v1/webhooks",
            key,
            Some(json!({"name": "hr", "url": "https://example.com/hook", "monitorFields": ["department"]})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let private_key = created["privateKey"].as_str().expect("private key");
        assert!(private_key.len() >= 32 && private_key != b.webhook_private_key);
        let id = created["id"].as_str().expect("id");
        let (_, _, shown) =
            call(&router, "GET", &format!("/api/v1/webhooks/{id}"), key, None).await;
        assert_eq!(shown["name"], "hr");
        assert!(shown.get("privateKey").is_none());
        let (status, _, _) = call(
            &router,
            "POST",
            "/api/v1/webhooks",
            key,
            Some(json!({"name": "plain", "url": "http://example.com/hook"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "HTTPS only");

        let since = b.core.now();
        let changed = b
            .core
            .state()
            .upsert(
                Map::from_iter([
                    ("id".into(), json!("103")),
                    ("department".into(), json!("Sales")),
                ]),
                since,
            )
            .expect("changed");
        assert_eq!(changed, (103, false, vec!["department".to_string()]));
        let feed = b.core.state().changes_since(since, "all");
        assert_eq!(feed.len(), 1);
        assert_eq!(feed["103"]["action"], "Updated");
        assert!(
            b.core
                .state()
                .upsert(
                    Map::from_iter([("favouriteColour".into(), json!("red"))]),
                    since
                )
                .is_err()
        );
        assert_eq!(
            sign("k", b"{}", "1"),
            {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"k");
                hex::encode(aws_lc_rs::hmac::sign(&key, b"{}1").as_ref())
            },
            "body then timestamp"
        );
    }
}
