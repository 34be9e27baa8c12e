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
