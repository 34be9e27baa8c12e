//! What every emulator is made of, whatever vendor it speaks for.
//!
//! - [`Emulator`]: the trait the sandbox serves. An emulator names its kind, starts from its seed, builds its
//!   vendor API router, applies changes made "by hand" and says which credentials clients use.
//! - [`Core`]: the state pieces each emulator keeps: its state behind one lock with the seed it resets to
//!   ([`Seeded`]), the clock, the write counts ([`Writes`]), injected faults ([`FaultSettings`]) and rate limits
//!   ([`RateLimits`]).
//! - The `/__sandbox` admin routes every emulator answers the same way (`admin`): `writes`, `faults`,
//!   `rate-limits`, `reset` and `hand-change`, loopback only, with validated input.
//! - Request helpers: [`Ctx`], [`json_response`], [`set_header`], random credentials.
//!
//! Vendor rules (auth, error bodies, which requests a rate limit counts, pagination) stay in each system's module.

mod admin;
mod faults;
mod limits;
mod request;
mod state;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;

pub use admin::{AdminBody, AdminError, bounds, loopback_only};
pub use faults::{FaultSettings, Faults};
pub use limits::{Decision, FixedWindows, RateLimits, Tally};
pub use request::{
    Ctx, Now, form_pairs, json_response, local_part, name_from_email, random_token, set_header,
};
pub use state::{Core, CoreAdmin, Seeded, Writes};

use crate::clock::{Clock, SystemClock};
use crate::hand_change::HandChange;

/// Locks `m`, also after a panic in another handler: one failed request must not wedge the emulator for every
/// later one. The one lock helper of the sandbox.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How to run one emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The API credential clients must send; a random one in the vendor's format when `None`.
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Rate-limit window (vendors count per minute or hour; tests shorten it).
    pub rate_limit_window_seconds: u64,
    /// How long access tokens minted by a token endpoint live (`tokens::DEFAULT_LIFETIME_SECONDS`).
    pub token_lifetime_seconds: u64,
}

impl EmulatorConfig {
    /// The shared state pieces of an emulator seeded with `seed`, whose rate limits start as `limits`.
    pub fn core<S, L, F>(&self, seed: &S::Seed, limits: L) -> Core<S, L, F>
    where
        S: Seeded,
        S::Seed: Clone,
        L: RateLimits,
        F: FaultSettings,
    {
        Core::new(seed.clone(), self.clock.clone(), limits)
    }

    /// Fixed windows of the configured length for `buckets` (name, requests per window).
    pub fn windows(&self, buckets: &[(&str, u32)]) -> FixedWindows {
        FixedWindows::new(self.rate_limit_window_seconds, buckets)
    }

    /// The configured credential, or a new one from `random`.
    pub fn token_or(&self, random: impl FnOnce() -> String) -> String {
        self.token.clone().unwrap_or_else(random)
    }
}

/// What [`Emulator::credentials`] answers, from (name, value) pairs.
pub fn credentials<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token: None,
            clock: Arc::new(SystemClock),
            rate_limit_window_seconds: 60,
            token_lifetime_seconds: tokens::DEFAULT_LIFETIME_SECONDS,
        }
    }
}

/// One emulated system. The sandbox serves [`router`] for it: the vendor API from [`Emulator::api`] plus the
/// shared `/__sandbox` routes, which reach the emulator through [`Emulator::core`], [`Emulator::reset`] and
/// [`Emulator::hand_change`].
pub trait Emulator: Send + Sync + Sized + 'static {
    /// The system's key and kind in the sandbox info (`okta`, `gitlab`, …).
    const KIND: &'static str;
    /// Served over HTTPS only, as the vendor's client insists.
    const HTTPS: bool = false;
    /// Ops `/__sandbox/hand-change` takes besides `add`, `remove` and `suspend`, handled by
    /// [`Emulator::legacy_hand_change`] (older tests use them).
    const LEGACY_HAND_CHANGES: &'static [&'static str] = &[];

    /// What the organisation file seeds it with.
    type Seed;

    /// Builds the emulator (and starts any background work it does, such as Okta's hook deliveries).
    fn start(seed: &Self::Seed, config: EmulatorConfig) -> Arc<Self>;

    /// What clients authenticate with, by the names connection settings use (`token`, `key_id`, …).
    fn credentials(&self) -> BTreeMap<String, String>;

    /// Connection settings that are not secrets but that a client cannot discover through the vendor's API
    /// (AWS account names, which Identity Center does not list), by the names connection settings use.
    fn settings(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// [`Emulator::credentials`] once the emulator listens at `base_url`, for credentials that name it (a
    /// service account key file's `token_uri`).
    fn credentials_at(&self, _base_url: &str) -> BTreeMap<String, String> {
        self.credentials()
    }

    /// [`Emulator::settings`] once the emulator listens at `base_url` (a login URL).
    fn settings_at(&self, _base_url: &str) -> serde_json::Map<String, serde_json::Value> {
        self.settings()
    }

    /// The shared state pieces, as the admin routes see them.
    fn core(&self) -> &dyn CoreAdmin;

    /// The vendor API: its routes, fallback and middleware (auth, rate limits, injected faults, headers).
    fn api(this: &Arc<Self>) -> Router<Arc<Self>>;

    /// A change an administrator makes in the vendor's own console (`crate::hand_change`); not an API write.
    /// The error names what is unknown.
    fn hand_change(&self, change: &HandChange) -> Result<(), String>;

    /// One of [`Emulator::LEGACY_HAND_CHANGES`], from its raw body.
    fn legacy_hand_change(&self, _body: &Bytes) -> Result<(), String> {
        Err(format!("{} has no hand-change ops of its own", Self::KIND))
    }

    /// Admin endpoints of this emulator's own under `/__sandbox` (served loopback only, like the shared ones).
    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
    }

    /// Back to the seed with default limits and no faults.
    fn reset(&self) {
        self.core().reset();
    }
}

/// The whole router of `emulator`: its API and the `/__sandbox` admin routes.
pub fn router<E: Emulator>(emulator: &Arc<E>) -> Router {
    let api = E::api(emulator).layer(axum::middleware::from_fn_with_state(
        emulator.clone(),
        request::stamp::<E>,
    ));
    api.merge(admin::routes::<E>()).with_state(emulator.clone())
}

/// One request through a router in process, for the emulators' unit tests: the status and the JSON
/// body (`null` when there is none).
#[cfg(test)]
pub(crate) async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (axum::http::StatusCode, serde_json::Value) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[cfg(test)]
mod tests {
    //! The shared admin routes on a minimal emulator: every bad setting is a 400 naming its field, leaves the
    //! settings as they were, and no later request panics.

    use super::*;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};

    #[derive(Debug, Default)]
    struct Pings {
        writes: Writes,
    }

    impl Seeded for Pings {
        type Seed = ();
        fn seeded(_: &(), _: DateTime<Utc>) -> Self {
            Pings::default()
        }
        fn writes(&self) -> &Writes {
            &self.writes
        }
    }

    #[derive(Debug)]
    struct Probe {
        core: Core<Pings>,
    }

    impl Emulator for Probe {
        const KIND: &'static str = "probe";
        type Seed = ();

        fn start(_: &(), config: EmulatorConfig) -> Arc<Self> {
            Arc::new(Probe {
                core: Core::new((), config.clock, FixedWindows::new(60, &[("api", 5)])),
            })
        }

        fn credentials(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }

        fn core(&self) -> &dyn CoreAdmin {
            &self.core
        }

        fn api(_: &Arc<Self>) -> Router<Arc<Self>> {
            Router::new().route(
                "/ping",
                get(|State(p): State<Arc<Probe>>| async move {
                    let decision = p.core.limits().charge("api", p.core.now());
                    if !decision.allowed {
                        return StatusCode::TOO_MANY_REQUESTS;
                    }
                    if let Some(status) = p
                        .core
                        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
                        .await
                    {
                        return status;
                    }
                    p.core.state().writes.count("ping".into());
                    StatusCode::OK
                }),
            )
        }

        fn hand_change(&self, change: &HandChange) -> Result<(), String> {
            Err(format!("unknown user {}", change.user()))
        }
    }

    async fn read(router: &Router, uri: &str) -> (StatusCode, Value) {
        call(router, "GET", uri, "").await
    }

    async fn send(router: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
        call(router, "POST", uri, body).await
    }

    #[tokio::test]
    async fn bad_settings_are_refused_by_name_and_change_nothing() {
        let probe = Probe::start(&(), EmulatorConfig::default());
        let router = router(&probe);
        let limits = json!({"window_seconds": 60, "buckets": {"api": 5}});
        let faults = json!({"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "error_status": 0});
        for (endpoint, body, field) in [
            (
                "rate-limits",
                r#"{"window_seconds": 9223372036854775807}"#,
                "window_seconds",
            ),
            (
                "rate-limits",
                r#"{"window_seconds": 18446744073709551615}"#,
                "window_seconds",
            ),
            ("rate-limits", r#"{"window_seconds": 0}"#, "window_seconds"),
            ("rate-limits", r#"{"window_seconds": -5}"#, "window_seconds"),
            (
                "rate-limits",
                r#"{"window_seconds": 1.5}"#,
                "window_seconds",
            ),
            ("rate-limits", r#"{"all": 1000000000000}"#, "all"),
            (
                "rate-limits",
                r#"{"buckets": {"api": 4294967296}}"#,
                "buckets.api",
            ),
            ("rate-limits", r#"{"buckets": {"nope": 1}}"#, "nope"),
            ("rate-limits", r#"{"limit": 1}"#, "limit"),
            ("rate-limits", "[]", "JSON object"),
            ("faults", r#"{"latency_ms": 86400000}"#, "latency_ms"),
            ("faults", r#"{"latency_ms": -1}"#, "latency_ms"),
            ("faults", r#"{"error_rate": 1.5}"#, "error_rate"),
            ("faults", r#"{"error_rate": -0.1}"#, "error_rate"),
            ("faults", r#"{"error_status": 404}"#, "error_status"),
            ("faults", r#"{"error_status": 70000}"#, "error_status"),
            (
                "faults",
                r#"{"member_visibility_delay_ms": 1}"#,
                "member_visibility_delay_ms",
            ),
        ] {
            let (status, error) = send(&router, &format!("/__sandbox/{endpoint}"), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint} {body}");
            let message = error["error"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{endpoint} {body}: {error}");
            assert_eq!(read(&router, "/__sandbox/rate-limits").await.1, limits);
            assert_eq!(read(&router, "/__sandbox/faults").await.1, faults);
        }
        for _ in 0..5 {
            assert_eq!(read(&router, "/ping").await.0, StatusCode::OK);
        }
        assert_eq!(
            read(&router, "/ping").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // A benchmark reads what the workload cost each bucket and how many 429s it met.
        assert_eq!(
            read(&router, "/__sandbox/calls").await.1,
            json!({"buckets": {"api": {"calls": 6, "refused": 1}}})
        );
    }

    #[tokio::test]
    async fn good_settings_apply_and_reset_restores_the_defaults() {
        let probe = Probe::start(&(), EmulatorConfig::default());
        let router = router(&probe);
        let (status, settings) = send(
            &router,
            "/__sandbox/rate-limits",
            r#"{"window_seconds": 86400, "all": 1}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            settings,
            json!({"window_seconds": 86400, "buckets": {"api": 1}})
        );
        let (status, faults) = send(
            &router,
            "/__sandbox/faults",
            r#"{"error_rate": 1, "error_status": 503}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(faults["error_status"], 503);
        assert_eq!(
            read(&router, "/ping").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            read(&router, "/ping").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            send(&router, "/__sandbox/reset", "").await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(read(&router, "/ping").await.0, StatusCode::OK);
        assert_eq!(
            read(&router, "/__sandbox/writes").await.1,
            json!({"writes": {"ping": 1}})
        );
    }

    #[tokio::test]
    async fn hand_changes_and_unknown_admin_paths_answer_with_what_is_wrong() {
        let probe = Probe::start(&(), EmulatorConfig::default());
        let router = router(&probe);
        let (status, error) = send(
            &router,
            "/__sandbox/hand-change",
            r#"{"op": "suspend", "user": "nobody"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["error"], "unknown user nobody");
        let (status, error) = send(
            &router,
            "/__sandbox/hand-change",
            r#"{"op": "promote", "user": "a"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.contains("promote"))
        );
        let (status, error) = read(&router, "/__sandbox/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.contains("/__sandbox/nope"))
        );
    }
}
