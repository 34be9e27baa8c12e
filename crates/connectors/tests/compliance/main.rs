//! Every connector against its sandbox emulator.
//!
//! `harness.rs` is the contract every system keeps (a sync round trip, each operation twice, the 429, 5xx,
//! permanent and unauthorized paths, changes made by hand), run for each system declared below in one line.
//! Each system's module says how to build its connector and names a person, resource and operation of its own
//! for each case, and holds the tests of what only that system does. `okta_full.rs`, `okta_incremental.rs`
//! and `aws_moto.rs` go further for Okta (OAuth, actions, push, change feed) and AWS (against moto).
//! `datadog.rs` is a read-only connection (no operations in `describe()`): it is not in the contract, whose
//! cases apply grants, and keeps its own versions of the sync, 429, 5xx and refused-key cases; so does
//! `bamboohr.rs`, the read-only HRIS source (employees, its change feed and its signed webhooks).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

mod aws;
mod aws_accounts;
mod aws_moto;
mod bamboohr;
mod datadog;
mod expiring_tokens;
mod github;
mod github_accounts;
mod gitlab;
mod gitlab_accounts;
mod google;
mod google_accounts;
mod harness;
mod jira;
mod jira_accounts;
mod okta;
mod okta_accounts;
mod okta_full;
mod okta_incremental;
mod okta_sync;
mod opa;
mod salesforce;
mod salesforce_accounts;
mod sandbox;
mod scim;
mod scim_accounts;
mod slack;
mod slack_accounts;

contract! {
    okta => crate::okta::Okta,
    google => crate::google::Google,
    github => crate::github::Github,
    gitlab => crate::gitlab::Gitlab,
    gitlab_admin_api => crate::gitlab_accounts::GitlabAdminApi,
    slack => crate::slack::Slack,
    aws => crate::aws::Aws,
    jira => crate::jira::Jira,
    salesforce => crate::salesforce::Salesforce,
    scim => crate::scim::Scim,
    opa => crate::opa::Opa,
}
