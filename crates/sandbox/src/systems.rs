//! The registry of emulated systems: the one place a new emulator (Google, GitHub, GitLab, Slack, …) is added.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;

use crate::clock::{Clock, SystemClock};
use crate::datadog;
use crate::okta::{self, OktaConfig};
use crate::org::Org;
use crate::server::SandboxOptions;

/// One emulator ready to serve: the router plus what clients need to reach it.
pub(crate) struct BuiltSystem {
    /// Key in `SandboxInfo.systems`.
    pub key: &'static str,
    pub kind: &'static str,
    pub port: u16,
    pub router: Router,
    pub credentials: BTreeMap<String, String>,
}

/// Okta's group push into the OPA emulator: the Okta module knows only the trait.
#[derive(Debug)]
struct OpaPush(Arc<crate::opa::Opa>);

impl okta::GroupPushTarget for OpaPush {
    fn pushed_groups(&self, groups: &BTreeMap<String, Vec<String>>) {
        self.0.sync_pushed_groups(groups);
    }
}
/// Kinds served over HTTPS only, as their vendors' clients insist.
pub(crate) const TLS_KINDS: &[&str] = &["salesforce"];

/// Builds every emulator the organisation has a section for.
pub(crate) fn build(org: &Org, opts: &SandboxOptions) -> Vec<BuiltSystem> {
    let clock: Arc<dyn Clock> = opts.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
    let (router, handle) = okta::okta_router(
        &org.okta,
        OktaConfig {
            token: opts.okta_token.clone(),
            clock: clock.clone(),
            rate_limit_window_seconds: opts.rate_limit_window_seconds,
        },
    );
    let mut systems = vec![BuiltSystem {
        key: "okta",
        kind: "okta",
        port: opts.okta_port,
        router,
        credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
    }];
    if let Some(seed) = &org.gitlab {
        let (router, handle) = crate::gitlab::gitlab_router(
            seed,
            crate::gitlab::GitlabConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "gitlab",
            kind: "gitlab",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
        });
    }
    if let Some(seed) = &org.slack {
        let (router, handle) = crate::slack::slack_router(
            seed,
            crate::slack::SlackConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "slack",
            kind: "slack",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
        });
    }
    if let Some(seed) = &org.google {
        let (router, handle) = crate::google::google_router(
            seed,
            crate::google::GoogleConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "google",
            kind: "google",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
        });
    }
    if let Some(seed) = &org.github {
        let (router, handle) = crate::github::github_router(
            seed,
            crate::github::GithubConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "github",
            kind: "github",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
        });
    }
    if let Some(seed) = &org.scim {
        let (router, scim) = crate::scim::scim_router(
            seed,
            crate::scim::ScimConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "scim",
            kind: "scim",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), scim.token.clone())]),
        });
    }
    if let Some(seed) = &org.opa {
        let (router, opa) = crate::opa::opa_router(
            seed,
            crate::opa::OpaConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        if let Some(app) = &seed.okta_app {
            // The Okta app that represents OPA pushes its mapped groups (and their members) into the team.
            handle.on_group_push(app, Arc::new(OpaPush(opa.clone())));
        }
        systems.push(BuiltSystem {
            key: "opa",
            kind: "opa",
            port: 0,
            router,
            credentials: BTreeMap::from([
                ("team".to_owned(), opa.team.clone()),
                ("key_id".to_owned(), opa.key_id.clone()),
                ("key_secret".to_owned(), opa.key_secret.clone()),
            ]),
        });
    }
    if let Some(seed) = &org.jira {
        let (router, jira) = crate::jira::jira_router(
            seed,
            crate::jira::JiraConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "jira",
            kind: "jira",
            port: 0,
            router,
            credentials: BTreeMap::from([
                ("email".to_owned(), jira.email.clone()),
                ("token".to_owned(), jira.token.clone()),
            ]),
        });
    }
    if let Some(seed) = &org.salesforce {
        let (router, handle) = crate::salesforce::salesforce_router(
            seed,
            crate::salesforce::SalesforceConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "salesforce",
            kind: "salesforce",
            port: 0,
            router,
            credentials: BTreeMap::from([("token".to_owned(), handle.token.clone())]),
        });
    }
    if let Some(seed) = &org.datadog {
        let (router, dd) = datadog::datadog_router(seed);
        systems.push(BuiltSystem {
            key: "datadog",
            kind: "datadog",
            port: 0,
            router,
            credentials: BTreeMap::from([
                ("api_key".to_owned(), dd.api_key.clone()),
                ("application_key".to_owned(), dd.application_key.clone()),
            ]),
        });
    }
    if let Some(seed) = &org.aws {
        let (router, handle) = crate::aws::aws_router(
            seed,
            crate::aws::AwsConfig {
                token: None,
                clock: clock.clone(),
                rate_limit_window_seconds: opts.rate_limit_window_seconds,
            },
        );
        systems.push(BuiltSystem {
            key: "aws",
            kind: "aws",
            port: 0,
            router,
            credentials: BTreeMap::from([
                ("access_key_id".to_owned(), handle.access_key_id.clone()),
                (
                    "secret_access_key".to_owned(),
                    handle.secret_access_key.clone(),
                ),
            ]),
        });
    }
    systems
}
