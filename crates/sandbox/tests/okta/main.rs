//! The Okta emulator's rules over HTTP against an in-process sandbox, one module per concept.

mod assignments;
mod common;
mod oauth;
mod oidc;
mod org;
mod platform;
mod users;
