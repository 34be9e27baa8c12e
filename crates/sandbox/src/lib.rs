//! Emulators of the vendor APIs grantflow talks to, the organisation files that seed them, and the server that runs them.
//!
//! Each emulated system is one module (`okta`, `google`, `github`, `gitlab`, `slack`, `aws`, `jira`,
//! `salesforce`, `scim`, `opa`, `datadog`, `bamboohr`) that implements [`Emulator`]: its state on the shared pieces
//! ([`emulator::Core`]), the vendor's routes, errors, pagination and rate-limit rules, and changes by hand. The
//! `/__sandbox` admin routes (writes, faults, rate limits, calls, reset, hand-change) are shared ([`emulator`]).
//! Systems are listed in one place, `systems.rs`, and [`start`] serves each on its own loopback port, wrapped in
//! the network faults every system shares ([`network_faults`]). Services that flows call through the custom HTTP
//! card rather than a connector (the 1Password Connect emulator, [`vault`]) or the email card (the SMTP sink,
//! [`smtp`]) are served the same way but published apart, under `SandboxInfo.services`.

pub mod aws;
pub mod bamboohr;
pub mod clock;
pub mod datadog;
pub mod demo_reach;
pub mod emulator;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod hand_change;
pub mod jira;
pub mod network_faults;
pub mod okta;
pub mod opa;
pub mod org;
pub mod salesforce;
pub mod scim;
mod server;
pub mod slack;
pub mod smtp;
mod systems;
mod tls;
pub mod vault;
pub mod venv;

pub use clock::{Clock, ManualClock, SystemClock};
pub use emulator::{Emulator, EmulatorConfig};
pub use okta::{OktaConfig, okta_router};
pub use org::{Org, demo_org, load_org};
pub use server::{RunningSandbox, SandboxInfo, SandboxOptions, ServiceInfo, SystemInfo, start};
