//! Faults below the vendor's API, the same for every emulator: outage
//! windows, connections reset after the request took effect, answers that
//! arrive too late (the client times out though the change was made), and
//! stale reads after a write, and one-shot faults aimed at the next write
//! to one path, before or after it takes effect. Faults in the vendor's own terms (error
//! bodies, rate limits, latency) are each emulator's `/__sandbox/faults`
//! and `/__sandbox/rate-limits` (`crate::emulator`); these are wrapped
//! around every emulator by the server, with their admin endpoint
//! `/__sandbox/network` (loopback only, input checked like the others).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::emulator::{AdminBody, AdminError, bounds, loopback_only};

/// What an admin asks for (`POST /__sandbox/network`); a field left out is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkFaultSettings {
    /// The system is down (503) for this long from now.
    pub outage_seconds: f64,
    /// Share of API requests whose connection is dropped after the request
    /// took effect, so the client never hears the answer.
    pub reset_rate: f64,
    /// Share of API requests answered only after `timeout_ms` (after the
    /// request took effect), longer than a client's timeout.
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// The next this many writes (non-GET requests; for AWS, calls other
    /// than Get/List/Describe) are answered only after `timeout_ms`, after
    /// they took effect: a deterministic timeout.
    pub timeout_next_writes: u32,
    /// The next this many writes lose their answer to a connection reset
    /// after they took effect: a deterministic reset.
    pub reset_next_writes: u32,
    /// Eventual consistency: for this long after any write, a read the
    /// system answered before is answered the same way again (stale), as
    /// Google documents for its directory.
    pub consistency_delay_ms: u64,
    /// One-shot faults, each spent on the first write (non-GET request) whose path starts with its
    /// `path`, in order: a timeout before the write reaches the vendor (the client's retry really
    /// re-sends it), a timeout after it took effect, or a reset after it took effect.
    pub write_faults: Vec<WriteFault>,
}

/// One aimed fault of `write_faults`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteFault {
    /// `timeout_before`, `timeout_after` or `reset_after`.
    pub fault: WriteFaultKind,
    /// The request path's prefix (`/rest/api/3/user`); `/` aims at any write.
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteFaultKind {
    /// Held for `timeout_ms`, then dropped: the vendor never sees it.
    TimeoutBefore,
    /// Made, then answered only after `timeout_ms`.
    TimeoutAfter,
    /// Made, then its answer lost to a connection reset.
    ResetAfter,
}

impl WriteFaultKind {
    const NAMES: &'static [&'static str] = &["timeout_before", "timeout_after", "reset_after"];

    fn parse(name: &str) -> Option<Self> {
        match name {
            "timeout_before" => Some(Self::TimeoutBefore),
            "timeout_after" => Some(Self::TimeoutAfter),
            "reset_after" => Some(Self::ResetAfter),
            _ => None,
        }
    }
}

/// A fault of `write_faults` that was spent, as `GET /__sandbox/network` lists it (`spent`), so a
/// test can tell the fault really happened, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpentFault {
    pub fault: WriteFaultKind,
    pub method: String,
    pub path: String,
    pub at: DateTime<Utc>,
}

/// One write (non-GET request) as the network saw it, for `GET /__sandbox/network`'s `writes`: a
/// test counts the calls that really reached the service (`POST /api/v1/users` answered 200: one
/// creation), whichever emulator it is, and whatever faults were in the way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeenWrite {
    pub method: String,
    pub path: String,
    /// The service's answer; for a write held and dropped (`timeout_before`), the 504 the sandbox gave.
    pub status: u16,
    /// `false` when the write never reached the service (an outage, `timeout_before`).
    pub reached_service: bool,
    pub at: DateTime<Utc>,
}

/// The writes kept for `GET /__sandbox/network` (the newest; older ones are dropped).
const SEEN_WRITES: usize = 10_000;

impl NetworkFaultSettings {
    const FIELDS: &'static [&'static str] = &[
        "outage_seconds",
        "reset_rate",
        "timeout_rate",
        "timeout_ms",
        "timeout_next_writes",
        "reset_next_writes",
        "consistency_delay_ms",
        "write_faults",
    ];

    /// Reads and checks a `POST /__sandbox/network` body; the error names the field.
    pub fn parse(body: &[u8]) -> Result<Self, AdminError> {
        let b = AdminBody::parse(body, Self::FIELDS)?;
        let count = |name| {
            b.uint(name, 0..=bounds::COUNT)
                .map(|n| n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        };
        let outage_limit = (bounds::DELAY_MS / 1000) as f64;
        Ok(Self {
            outage_seconds: b
                .number("outage_seconds", 0.0..=outage_limit)?
                .unwrap_or(0.0),
            reset_rate: b.fraction("reset_rate")?.unwrap_or(0.0),
            timeout_rate: b.fraction("timeout_rate")?.unwrap_or(0.0),
            timeout_ms: b.uint("timeout_ms", 0..=bounds::TIMEOUT_MS)?.unwrap_or(0),
            timeout_next_writes: count("timeout_next_writes")?,
            reset_next_writes: count("reset_next_writes")?,
            consistency_delay_ms: b
                .uint("consistency_delay_ms", 0..=bounds::DELAY_MS)?
                .unwrap_or(0),
            write_faults: write_faults(body)?,
        })
    }
}

/// `write_faults`: a list of `{"fault", "path"}` objects (at most [`bounds::COUNT`]).
fn write_faults(body: &[u8]) -> Result<Vec<WriteFault>, AdminError> {
    let field = "write_faults";
    // `AdminBody::parse` has checked that the body is a JSON object (or empty).
    let list = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut fields)) => fields.remove(field),
        _ => None,
    };
    let items = match list {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items,
        Some(other) => {
            return Err(AdminError::field(
                field,
                format!("must be a list of {{\"fault\", \"path\"}} objects, not {other}"),
            ));
        }
    };
    if items.len() as u64 > bounds::COUNT {
        return Err(AdminError::field(
            field,
            format!("has {} entries; at most {}", items.len(), bounds::COUNT),
        ));
    }
    items
        .iter()
        .map(|item| {
            let fault = item
                .get("fault")
                .and_then(serde_json::Value::as_str)
                .and_then(WriteFaultKind::parse)
                .ok_or_else(|| {
                    AdminError::field(
                        field,
                        format!(
                            "each entry's fault must be one of {}, not {}",
                            WriteFaultKind::NAMES.join(", "),
                            item.get("fault").unwrap_or(&serde_json::Value::Null)
                        ),
                    )
                })?;
            let path = match item.get("path") {
                None | Some(serde_json::Value::Null) => "/".to_string(),
                Some(serde_json::Value::String(path)) if path.starts_with('/') => path.clone(),
                Some(other) => {
                    return Err(AdminError::field(
                        field,
                        format!("each entry's path must start with /, not {other}"),
                    ));
                }
            };
            if let Some(unknown) = item
                .as_object()
                .and_then(|o| o.keys().find(|k| !["fault", "path"].contains(&k.as_str())))
            {
                return Err(AdminError::field(
                    field,
                    format!("unknown key {unknown:?} in an entry (fault, path)"),
                ));
            }
            Ok(WriteFault { fault, path })
        })
        .collect()
}

/// A read's answer, kept to be served stale after a write.
#[derive(Debug, Clone)]
struct CachedRead {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Active {
    settings: NetworkFaultSettings,
    outage_until: Option<DateTime<Utc>>,
    last_write: Option<DateTime<Utc>>,
    /// Writes still to time out (`timeout_next_writes`).
    timeouts_left: u32,
    /// Writes still to lose their answer (`reset_next_writes`).
    resets_left: u32,
    /// `write_faults` not spent yet, in order.
    aimed: Vec<WriteFault>,
    /// `write_faults` spent, in order.
    spent: Vec<SpentFault>,
    reads: std::collections::HashMap<String, CachedRead>,
}

#[derive(Clone)]
struct Faults {
    active: Arc<Mutex<Active>>,
    /// Every write seen, kept across new settings (a `POST /__sandbox/network` resets the faults, not
    /// the record of what happened).
    seen: Arc<Mutex<std::collections::VecDeque<SeenWrite>>>,
    clock: Arc<dyn Clock>,
}

impl Faults {
    fn spent(&self, fault: WriteFaultKind, method: &str, path: &str) {
        if let Ok(mut active) = self.active.lock() {
            active.spent.push(SpentFault {
                fault,
                method: method.to_string(),
                path: path.to_string(),
                at: self.clock.now(),
            });
        }
    }

    fn saw(&self, method: &str, path: &str, status: StatusCode, reached_service: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= SEEN_WRITES {
                seen.pop_front();
            }
            seen.push_back(SeenWrite {
                method: method.to_string(),
                path: path.to_string(),
                status: status.as_u16(),
                reached_service,
                at: self.clock.now(),
            });
        }
    }
}

/// Wraps `router` with the network faults and their admin endpoint.
pub fn wrap(router: Router, clock: Arc<dyn Clock>) -> Router {
    let faults = Faults {
        active: Arc::new(Mutex::new(Active::default())),
        seen: Arc::default(),
        clock,
    };
    let admin = Router::new()
        .route("/__sandbox/network", get(show).post(set))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(faults.clone());
    router
        .layer(middleware::from_fn_with_state(faults, inject))
        .merge(admin)
}

async fn show(State(faults): State<Faults>) -> Response {
    let (settings, spent) = faults
        .active
        .lock()
        .map(|a| (a.settings.clone(), a.spent.clone()))
        .unwrap_or_default();
    let seen: Vec<SeenWrite> = faults
        .seen
        .lock()
        .map(|seen| seen.iter().cloned().collect())
        .unwrap_or_default();
    let mut shown = serde_json::to_value(settings).unwrap_or_default();
    if let Some(map) = shown.as_object_mut() {
        map.insert(
            "spent".into(),
            serde_json::to_value(spent).unwrap_or_default(),
        );
        map.insert(
            "writes".into(),
            serde_json::to_value(seen).unwrap_or_default(),
        );
    }
    axum::Json(shown).into_response()
}

async fn set(State(faults): State<Faults>, body: Bytes) -> Response {
    let settings = match NetworkFaultSettings::parse(&body) {
        Ok(settings) => settings,
        Err(error) => return error.into_response(),
    };
    // Bounded by `parse`, so the sum cannot overflow the clock.
    let outage_until = (settings.outage_seconds > 0.0).then(|| {
        faults.clock.now()
            + chrono::Duration::milliseconds((settings.outage_seconds * 1000.0) as i64)
    });
    if let Ok(mut active) = faults.active.lock() {
        *active = Active {
            settings: settings.clone(),
            outage_until,
            timeouts_left: settings.timeout_next_writes,
            resets_left: settings.reset_next_writes,
            aimed: settings.write_faults.clone(),
            ..Active::default()
        };
    }
    axum::Json(settings).into_response()
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__sandbox") {
        return next.run(request).await;
    }
    let current = faults
        .active
        .lock()
        .map(|active| (active.settings.clone(), active.outage_until))
        .ok();
    let is_read = request.method() == axum::http::Method::GET;
    // AWS's JSON protocols POST every call: a Get/List/Describe is no write for the scheduled faults.
    let writes = !is_read && !aws_read(&request);
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let Some((settings, outage_until)) = current else {
        return next.run(request).await;
    };
    if outage_until.is_some_and(|until| faults.clock.now() < until) {
        if writes {
            faults.saw(&method, &path, StatusCode::SERVICE_UNAVAILABLE, false);
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "application/json")],
            r#"{"error":"service unavailable"}"#,
        )
            .into_response();
    }
    let key = request.uri().to_string();
    if settings.consistency_delay_ms > 0 && is_read {
        return consistent_later(&faults, &settings, key, request, next).await;
    }
    let aimed = if writes {
        take_aimed(&faults, &path)
    } else {
        None
    };
    if aimed == Some(WriteFaultKind::TimeoutBefore) {
        faults.spent(WriteFaultKind::TimeoutBefore, &method, &path);
        faults.saw(&method, &path, StatusCode::GATEWAY_TIMEOUT, false);
        // The client gives up first; the vendor never sees the request.
        tokio::time::sleep(Duration::from_millis(settings.timeout_ms)).await;
        return (
            StatusCode::GATEWAY_TIMEOUT,
            [("content-type", "application/json")],
            r#"{"error":"sandbox: timed out before reaching the service"}"#,
        )
            .into_response();
    }
    let response = next.run(request).await;
    if writes {
        faults.saw(&method, &path, response.status(), true);
    }
    // An after-effect fault is spent once the effect is made, so a test that waits for it to be
    // spent (to kill the client while the answer is on its way) knows the change happened.
    if let Some(kind) = aimed {
        faults.spent(kind, &method, &path);
    }
    match aimed {
        Some(WriteFaultKind::TimeoutAfter) => {
            tokio::time::sleep(Duration::from_millis(settings.timeout_ms)).await;
            return response;
        }
        Some(WriteFaultKind::ResetAfter) => {
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, broken_body());
        }
        _ => {}
    }
    if settings.consistency_delay_ms > 0
        && !is_read
        && let Ok(mut active) = faults.active.lock()
    {
        active.last_write = Some(faults.clock.now());
    }
    let scheduled_reset = writes
        && faults.active.lock().is_ok_and(|mut active| {
            let due = active.resets_left > 0;
            active.resets_left = active.resets_left.saturating_sub(1);
            due
        });
    if scheduled_reset || (settings.reset_rate > 0.0 && rand::random::<f64>() < settings.reset_rate)
    {
        // The change was made; the answer is lost with the connection.
        let broken = broken_body();
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, broken);
    }
    let scheduled_timeout = writes
        && faults.active.lock().is_ok_and(|mut active| {
            let due = active.timeouts_left > 0;
            active.timeouts_left = active.timeouts_left.saturating_sub(1);
            due
        });
    if scheduled_timeout
        || (settings.timeout_rate > 0.0 && rand::random::<f64>() < settings.timeout_rate)
    {
        tokio::time::sleep(Duration::from_millis(settings.timeout_ms)).await;
    }
    response
}

/// Takes the first aimed fault whose path prefixes this write's, so no other write gets it; the
/// caller records it as spent when it happens ([`Faults::spent`]).
fn take_aimed(faults: &Faults, path: &str) -> Option<WriteFaultKind> {
    let mut active = faults.active.lock().ok()?;
    let index = active
        .aimed
        .iter()
        .position(|aimed| path.starts_with(&aimed.path))?;
    Some(active.aimed.remove(index).fault)
}

/// An AWS JSON call (`X-Amz-Target: Service.Operation`) that only reads.
fn aws_read(request: &Request) -> bool {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .is_some_and(|op| {
            ["Get", "List", "Describe"]
                .iter()
                .any(|p| op.starts_with(p))
        })
}

/// Serves a read stale (the answer cached before the last write) while the
/// last write is younger than the delay; otherwise answers and caches it.
async fn consistent_later(
    faults: &Faults,
    settings: &NetworkFaultSettings,
    key: String,
    request: Request,
    next: Next,
) -> Response {
    let now = faults.clock.now();
    let delay =
        chrono::Duration::milliseconds(i64::try_from(settings.consistency_delay_ms).unwrap_or(0));
    let stale = faults.active.lock().ok().and_then(|active| {
        let recent = active.last_write.is_some_and(|at| now - at < delay);
        if recent {
            active.reads.get(&key).cloned()
        } else {
            None
        }
    });
    if let Some(cached) = stale {
        let mut response = Response::new(Body::from(cached.body));
        *response.status_mut() = cached.status;
        *response.headers_mut() = cached.headers;
        return response;
    }
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "sandbox: answer too large to cache",
        )
            .into_response();
    };
    if parts.status.is_success()
        && let Ok(mut active) = faults.active.lock()
    {
        active.reads.insert(
            key,
            CachedRead {
                status: parts.status,
                headers: parts.headers.clone(),
                body: bytes.clone(),
            },
        );
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A body whose first read fails, which makes the server drop the
/// connection mid-answer.
fn broken_body() -> Body {
    Body::from_stream(futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: connection reset",
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::call;
    use axum::routing::post;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A service that counts the writes that reach it, each made `work` after it arrived, wrapped
    /// in the network faults.
    fn counted(work: Duration) -> (Router, Arc<AtomicU32>) {
        let made = Arc::new(AtomicU32::new(0));
        let counter = made.clone();
        let service = Router::new().route(
            "/{*path}",
            post(move || {
                let counter = counter.clone();
                async move {
                    tokio::time::sleep(work).await;
                    counter.fetch_add(1, Ordering::SeqCst);
                    StatusCode::CREATED
                }
            }),
        );
        (wrap(service, Arc::new(crate::clock::SystemClock)), made)
    }

    #[tokio::test]
    async fn an_after_effect_fault_is_listed_as_spent_only_once_the_write_is_made() {
        let (router, made) = counted(Duration::from_millis(150));
        call(
            &router,
            "POST",
            "/__sandbox/network",
            r#"{"timeout_ms": 50, "write_faults": [{"fault": "timeout_after", "path": "/roles/"}]}"#,
        )
        .await;
        let spent = |router: Router| async move {
            let (_, shown) = call(&router, "GET", "/__sandbox/network", "").await;
            shown["spent"].as_array().map_or(0, Vec::len)
        };

        let client = {
            let router = router.clone();
            tokio::spawn(async move { call(&router, "POST", "/roles/7", "").await })
        };
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(made.load(Ordering::SeqCst), 0);
        assert_eq!(spent(router.clone()).await, 0, "not made yet, so not spent");
        let (status, _) = client.await.expect("the write's answer");
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert_eq!(spent(router).await, 1, "made, then spent");
    }

    #[tokio::test]
    async fn an_aimed_timeout_before_never_reaches_the_service_and_one_after_does() {
        let (router, made) = counted(Duration::ZERO);
        let (status, _) = call(
            &router,
            "POST",
            "/__sandbox/network",
            r#"{"timeout_ms": 50, "write_faults": [{"fault": "timeout_before", "path": "/users"}, {"fault": "timeout_after", "path": "/roles/"}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // Aimed at /users: another path's write is not touched.
        assert_eq!(
            call(&router, "POST", "/groups/1", "").await.0,
            StatusCode::CREATED
        );
        assert_eq!(made.load(Ordering::SeqCst), 1);
        let (status, _) = call(&router, "POST", "/users", "").await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            made.load(Ordering::SeqCst),
            1,
            "held and dropped before the service"
        );
        // Spent: the retry goes through.
        assert_eq!(
            call(&router, "POST", "/users", "").await.0,
            StatusCode::CREATED
        );
        assert_eq!(made.load(Ordering::SeqCst), 2);
        let started = std::time::Instant::now();
        assert_eq!(
            call(&router, "POST", "/roles/7", "").await.0,
            StatusCode::CREATED
        );
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "answered late"
        );
        assert_eq!(made.load(Ordering::SeqCst), 3, "made, then answered late");

        let (_, shown) = call(&router, "GET", "/__sandbox/network", "").await;
        let spent: Vec<(&str, &str)> = shown["spent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["fault"].as_str()?, s["path"].as_str()?)))
            .collect();
        assert_eq!(
            spent,
            [("timeout_before", "/users"), ("timeout_after", "/roles/7")]
        );
        let writes: Vec<(&str, u64, bool)> = shown["writes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| {
                Some((
                    w["path"].as_str()?,
                    w["status"].as_u64()?,
                    w["reached_service"].as_bool()?,
                ))
            })
            .collect();
        assert_eq!(
            writes,
            [
                ("/groups/1", 201, true),
                ("/users", 504, false),
                ("/users", 201, true),
                ("/roles/7", 201, true),
            ]
        );
    }

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        for (body, field) in [
            (r#"{"outage_seconds": 1e300}"#, "outage_seconds"),
            (r#"{"outage_seconds": -1}"#, "outage_seconds"),
            (r#"{"reset_rate": 2}"#, "reset_rate"),
            (r#"{"timeout_rate": -0.5}"#, "timeout_rate"),
            (r#"{"timeout_ms": 18446744073709551615}"#, "timeout_ms"),
            (r#"{"timeout_next_writes": -1}"#, "timeout_next_writes"),
            (
                r#"{"consistency_delay_ms": 9223372036854775807}"#,
                "consistency_delay_ms",
            ),
            (r#"{"outage": 1}"#, "outage"),
            (
                r#"{"write_faults": {"fault": "timeout_before"}}"#,
                "write_faults",
            ),
            (r#"{"write_faults": [{"fault": "slow"}]}"#, "write_faults"),
            (
                r#"{"write_faults": [{"fault": "timeout_after", "path": "rest"}]}"#,
                "write_faults",
            ),
            (
                r#"{"write_faults": [{"fault": "reset_after", "when": 1}]}"#,
                "write_faults",
            ),
        ] {
            let err = NetworkFaultSettings::parse(body.as_bytes()).expect_err(body);
            assert!(err.message().contains(field), "{body}: {}", err.message());
        }
        let ok = NetworkFaultSettings::parse(br#"{"outage_seconds": 2.5, "timeout_ms": 1500}"#)
            .expect("valid");
        assert_eq!(ok.outage_seconds, 2.5);
        assert_eq!(ok.timeout_ms, 1500);
        let aimed = NetworkFaultSettings::parse(
            br#"{"write_faults": [{"fault": "timeout_before", "path": "/rest/api/3/user"}, {"fault": "reset_after"}]}"#,
        )
        .expect("valid");
        assert_eq!(
            aimed.write_faults,
            vec![
                WriteFault {
                    fault: WriteFaultKind::TimeoutBefore,
                    path: "/rest/api/3/user".into()
                },
                WriteFault {
                    fault: WriteFaultKind::ResetAfter,
                    path: "/".into()
                },
            ]
        );
        assert_eq!(
            NetworkFaultSettings::parse(b""),
            Ok(NetworkFaultSettings::default())
        );
    }
}
