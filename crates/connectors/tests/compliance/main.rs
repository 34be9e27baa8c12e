//! Every connector against its sandbox emulator: a sync round-trip, each
//! operation twice (idempotency), and the 429, 5xx, permanent and
//! unauthorized paths. One module per system.

mod emulated;
mod fixture;
mod github;
mod gitlab;
mod google;
mod jira;
mod okta;
mod okta_full;
mod okta_incremental;
mod salesforce;
mod slack;
