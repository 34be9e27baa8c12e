//! Every connector against its sandbox emulator: a sync round-trip, each
//! operation twice (idempotency), and the 429, 5xx, permanent and
//! unauthorized paths. One module per system.

mod aws;
mod aws_moto;
mod emulated;
mod fixture;
mod github;
mod gitlab;
mod google;
mod hand_change;
mod jira;
mod okta;
mod okta_full;
mod okta_incremental;
mod opa;
mod salesforce;
mod scim;
mod slack;
