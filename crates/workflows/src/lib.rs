//! Workflows as code: flow files (a trigger, then cards: connector operations, reads, custom HTTP,
//! functions, branches, loops, waits, helper flows), checked before they run and executed as durable runs
//! whose every step is recorded — the run's history, and what a resumed run replays instead of repeating an
//! effect.
//!
//! Architecture invariant: a flow never writes to a system around the engine. Change cards become plans
//! through the [`Host`] (the service), which pass the engine's gate and run as leased jobs; only the
//! custom HTTP card calls out directly, and only to the hosts its connection allows.

pub mod cards;
pub mod email;
pub mod file;
pub mod flow;
pub mod host;
pub mod http;
mod pure;
pub mod run;
pub mod set;
pub mod system_event;
pub mod template;
pub mod trigger;
pub mod webhook;
pub mod worker;

pub use email::{EmailCards, SmtpConnection, SmtpTls};
pub use flow::{Flow, Step, StepKind};
pub use host::{CardError, Host, Performed, Prepared};
pub use http::{HttpAuth, HttpCards, HttpConnection};
pub use run::{RunError, RunOutcome, Runtime, SECRET_PLACEHOLDER};
pub use set::{FlowSet, inputs_for};
pub use system_event::{SystemEvent, SystemEventKind, SystemEventTrigger};
pub use trigger::{RequestMoment, Trigger};
pub use worker::Start;
