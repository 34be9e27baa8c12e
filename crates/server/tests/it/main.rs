//! The HTTP API against a server started in-process on 127.0.0.1:0, over a
//! temporary SQLite store and the sandbox's emulators. One test binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

mod console;
mod door;
mod expiring_credentials;
mod flow_events;
mod flow_triggers;
mod flows;
mod hardening;
mod kit;
mod lifecycle;
mod openapi;
mod problems;
mod reach;
mod requests;
mod roles;
mod schemathesis;
mod signin;
mod system_events;
mod tokens;
mod worker;
