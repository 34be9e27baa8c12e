//! Emulators of the vendor APIs grantflow talks to, the organisation files that seed them, and the server that runs them.
//!
//! Each emulated system is one module (`okta`, later `google`, `github`, …) with the same layout: router, state,
//! the vendor's error, pagination and rate-limit rules, and an admin endpoint under `/__sandbox`. Systems are
//! registered in one place, [`systems`], and [`start`] serves each on its own loopback port.

pub mod aws;
pub mod clock;
mod control;
pub mod datadog;
pub mod demo_reach;
mod emulator;
pub mod github;
pub mod gitlab;
pub mod google;
mod hand_change;
pub mod jira;
pub mod network_faults;
pub mod okta;
pub mod opa;
pub mod org;
pub mod salesforce;
pub mod scim;
mod server;
pub mod slack;
mod systems;
mod tls;

pub use clock::{Clock, ManualClock, SystemClock};
pub use okta::{OktaConfig, okta_router};
pub use org::{Org, demo_org, load_org};
pub use server::{RunningSandbox, SandboxInfo, SandboxOptions, SystemInfo, start};
