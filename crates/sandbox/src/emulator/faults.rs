//! Injected failures at the vendor API level, set through `/__sandbox/faults`: added latency and a share of
//! requests answered with a 5xx in the vendor's error body. (Faults below the API, such as outages and lost
//! answers, are `crate::network_faults`.)

use serde::Serialize;

use super::admin::{AdminBody, AdminError, bounds};

/// The faults every emulator takes: `{"latency_ms", "jitter_ms", "error_rate", "error_status"}`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Faults {
    /// Added to every API request before it is answered.
    pub latency_ms: u64,
    /// Each request's latency is drawn uniformly from `latency_ms ± jitter_ms` (at least 0): real vendors'
    /// answers do not all take the same time, and a scheduler tuned to a constant latency would look better
    /// than it is.
    pub jitter_ms: u64,
    /// Share of API requests (0 to 1) answered with `error_status`.
    pub error_rate: f64,
    /// A 5xx, or 0 for the emulator's usual server error.
    pub error_status: u16,
}

/// What an emulator's `/__sandbox/faults` takes: [`Faults`], or [`Faults`] and settings of its own (Google's
/// member visibility delay).
pub trait FaultSettings: Serialize + Default + Clone + Send + Sync + 'static {
    /// The fields the body may carry; any other is refused by name.
    const FIELDS: &'static [&'static str];
    /// Reads a body whose fields are all in [`FaultSettings::FIELDS`]; a field left out takes its default.
    fn read(body: &AdminBody) -> Result<Self, AdminError>;
    fn common(&self) -> &Faults;
}

impl FaultSettings for Faults {
    const FIELDS: &'static [&'static str] =
        &["latency_ms", "jitter_ms", "error_rate", "error_status"];

    fn read(body: &AdminBody) -> Result<Self, AdminError> {
        let error_status = body.uint("error_status", 0..=599)?.unwrap_or(0);
        if error_status != 0 && error_status < 500 {
            return Err(AdminError::field(
                "error_status",
                format!(
                    "must be a 5xx status (or 0 for the emulator's usual one), not {error_status}"
                ),
            ));
        }
        Ok(Faults {
            latency_ms: body
                .uint("latency_ms", 0..=bounds::LATENCY_MS)?
                .unwrap_or(0),
            jitter_ms: body.uint("jitter_ms", 0..=bounds::LATENCY_MS)?.unwrap_or(0),
            error_rate: body.fraction("error_rate")?.unwrap_or(0.0),
            error_status: u16::try_from(error_status).unwrap_or(0),
        })
    }

    fn common(&self) -> &Faults {
        self
    }
}

impl Faults {
    /// This request's added latency: `latency_ms ± jitter_ms`, uniformly, never below 0.
    pub fn latency(&self) -> std::time::Duration {
        let ms = if self.jitter_ms == 0 {
            self.latency_ms
        } else {
            let low = self.latency_ms.saturating_sub(self.jitter_ms);
            let high = self.latency_ms.saturating_add(self.jitter_ms);
            rand::random_range(low..=high)
        };
        std::time::Duration::from_millis(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittered_latency_stays_within_its_range_and_varies() {
        let faults = Faults {
            latency_ms: 80,
            jitter_ms: 20,
            ..Faults::default()
        };
        let draws: Vec<u128> = (0..200).map(|_| faults.latency().as_millis()).collect();
        assert!(draws.iter().all(|ms| (60..=100).contains(ms)), "{draws:?}");
        assert!(
            draws.iter().any(|ms| *ms != draws[0]),
            "no jitter: {draws:?}"
        );
        let wide = Faults {
            latency_ms: 5,
            jitter_ms: 50,
            ..Faults::default()
        };
        assert!((0..200).all(|_| wide.latency().as_millis() <= 55));
        assert_eq!(
            Faults::default().latency(),
            std::time::Duration::ZERO,
            "no faults, no latency"
        );
    }
}
