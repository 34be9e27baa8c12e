//! The Okta emulator's rules over HTTP against an in-process sandbox, one module per concept.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

mod assignments;
mod common;
mod oauth;
mod oidc;
mod org;
mod platform;
mod users;
