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
    if let Some(seed) = &org.jira {
        let (router, handle) = crate::jira::jira_router(
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
                ("email".to_owned(), handle.email.clone()),
                ("token".to_owned(), handle.token.clone()),
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
    systems
}
