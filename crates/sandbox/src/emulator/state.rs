//! The state pieces every emulator keeps ([`Core`]), and the view the admin routes have of them ([`CoreAdmin`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::admin::{AdminBody, AdminError};
use super::faults::{FaultSettings, Faults};
use super::limits::{FixedWindows, RateLimits};
use super::lock;
use crate::clock::Clock;

/// Successful state-changing API requests, per object key (`group/<id>/member/<id>`, …): tests count them to
/// prove an operation applied twice wrote once. Changes by hand are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Writes(BTreeMap<String, u64>);

impl Writes {
    pub fn count(&mut self, key: String) {
        *self.0.entry(key).or_default() += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.0.clone()
    }
}

/// An emulator's in-memory state: made from its seed, and rebuilt from it by a reset.
pub trait Seeded: Send + 'static {
    type Seed: Send + Sync + 'static;
    fn seeded(seed: &Self::Seed, now: DateTime<Utc>) -> Self;
    fn writes(&self) -> &Writes;
}

/// What every emulator holds: its state `S` behind one lock and the seed it resets to, the clock, and the knobs
/// tests turn: rate limits `L` (with the values a reset restores) and injected faults `F`.
#[derive(Debug)]
pub struct Core<S: Seeded, L = FixedWindows, F = Faults> {
    state: Mutex<S>,
    seed: S::Seed,
    pub clock: Arc<dyn Clock>,
    limits: Mutex<L>,
    default_limits: L,
    faults: Mutex<F>,
}

impl<S, L, F> Core<S, L, F>
where
    S: Seeded,
    L: RateLimits,
    F: FaultSettings,
{
    pub fn new(seed: S::Seed, clock: Arc<dyn Clock>, limits: L) -> Self {
        Self {
            state: Mutex::new(S::seeded(&seed, clock.now())),
            seed,
            clock,
            limits: Mutex::new(limits.clone()),
            default_limits: limits,
            faults: Mutex::new(F::default()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    pub fn seed(&self) -> &S::Seed {
        &self.seed
    }

    pub fn limits(&self) -> MutexGuard<'_, L> {
        lock(&self.limits)
    }

    pub fn faults(&self) -> F {
        lock(&self.faults).clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Waits out the injected latency, then decides whether this request fails: the status to answer with if
    /// so (`usual` when the faults name none).
    pub async fn injected_failure(&self, usual: StatusCode) -> Option<StatusCode> {
        let faults = self.faults();
        let faults = faults.common();
        let latency = faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        (faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate)
            .then(|| StatusCode::from_u16(faults.error_status).unwrap_or(usual))
    }
}

/// The shared state pieces as the admin routes see them, whatever an emulator's state, limits and faults.
pub trait CoreAdmin: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn writes(&self) -> BTreeMap<String, u64>;
    fn fault_fields(&self) -> &'static [&'static str];
    fn faults_json(&self) -> Value;
    /// Replaces the faults with those in `body`; answers the new settings.
    fn set_faults(&self, body: &AdminBody) -> Result<Value, AdminError>;
    fn limit_fields(&self) -> &'static [&'static str];
    fn limits_json(&self) -> Value;
    /// Changes the rate limits named in `body`; answers the new settings.
    fn set_limits(&self, body: &AdminBody) -> Result<Value, AdminError>;
    /// Requests charged and refused per bucket (`GET /__sandbox/calls`).
    fn calls_json(&self) -> Value;
    /// Back to the seed, default limits, no faults.
    fn reset(&self);
}

impl<S, L, F> CoreAdmin for Core<S, L, F>
where
    S: Seeded,
    L: RateLimits,
    F: FaultSettings,
{
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn writes(&self) -> BTreeMap<String, u64> {
        self.state().writes().to_map()
    }

    fn fault_fields(&self) -> &'static [&'static str] {
        F::FIELDS
    }

    fn faults_json(&self) -> Value {
        serde_json::to_value(self.faults()).unwrap_or_default()
    }

    fn set_faults(&self, body: &AdminBody) -> Result<Value, AdminError> {
        let faults = F::read(body)?;
        *lock(&self.faults) = faults.clone();
        Ok(serde_json::to_value(faults).unwrap_or_default())
    }

    fn limit_fields(&self) -> &'static [&'static str] {
        L::FIELDS
    }

    fn limits_json(&self) -> Value {
        self.limits().settings()
    }

    fn set_limits(&self, body: &AdminBody) -> Result<Value, AdminError> {
        let mut limits = self.limits();
        limits.configure(body)?;
        Ok(limits.settings())
    }

    fn calls_json(&self) -> Value {
        self.limits().tally().json()
    }

    fn reset(&self) {
        *self.state() = S::seeded(&self.seed, self.clock.now());
        *self.limits() = self.default_limits.clone();
        *lock(&self.faults) = F::default();
    }
}
