//! The list of emulated systems: the one place a new emulator is added (one line in [`build`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;

use crate::emulator::{Emulator, EmulatorConfig, router};
use crate::org::Org;
use crate::{
    aws, bamboohr, datadog, github, gitlab, google, jira, okta, opa, salesforce, scim, slack, smtp,
    vault,
};

/// One emulator ready to serve: the router plus what clients need to reach it.
pub(crate) struct BuiltSystem {
    /// Key and kind in `SandboxInfo.systems` (or `services`).
    pub kind: &'static str,
    /// Published under `SandboxInfo.services`: reached by flows' HTTP card, not a connector system.
    pub service: bool,
    /// 0 picks an ephemeral port.
    pub port: u16,
    /// Served over HTTPS only, as its vendor's client insists.
    pub https: bool,
    pub router: Router,
    /// The credentials and settings clients use, once the base URL is known.
    pub published: Box<dyn Fn(&str) -> Published + Send + Sync>,
}

/// What the sandbox info says about one system besides where it is.
pub(crate) struct Published {
    pub credentials: BTreeMap<String, String>,
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl BuiltSystem {
    fn of<E: Emulator>(emulator: &Arc<E>) -> Self {
        let published = emulator.clone();
        BuiltSystem {
            kind: E::KIND,
            service: false,
            port: 0,
            https: E::HTTPS,
            router: router(emulator),
            published: Box::new(move |base_url| Published {
                credentials: published.credentials_at(base_url),
                settings: published.settings_at(base_url),
            }),
        }
    }
}

/// Starts the emulator of `E` when the organisation has a section for it.
fn built<E: Emulator>(seed: Option<&E::Seed>, config: &EmulatorConfig) -> Option<BuiltSystem> {
    seed.map(|seed| BuiltSystem::of(&E::start(seed, config.clone())))
}

/// Okta's group push into the OPA emulator: the Okta module knows only the trait.
#[derive(Debug)]
struct OpaPush(Arc<opa::Opa>);

impl okta::GroupPushTarget for OpaPush {
    fn pushed_groups(&self, groups: &BTreeMap<String, Vec<String>>) {
        self.0.sync_pushed_groups(groups);
    }
}

/// Builds every emulator the organisation has a section for. Okta (the directory) is always there, on
/// `okta_port` with `okta_token` when given; its app for OPA pushes groups into the OPA emulator.
pub(crate) fn build(
    org: &Org,
    config: &EmulatorConfig,
    okta_token: Option<String>,
    okta_port: u16,
) -> Vec<BuiltSystem> {
    let okta_config = EmulatorConfig {
        token: okta_token,
        ..config.clone()
    };
    let okta = okta::Okta::start(&org.okta, okta_config);
    let opa = org.opa.as_ref().map(|seed| {
        let opa = opa::Opa::start(seed, config.clone());
        if let Some(app) = &seed.okta_app {
            okta.on_group_push(app, Arc::new(OpaPush(opa.clone())));
        }
        opa
    });
    [
        Some(BuiltSystem {
            port: okta_port,
            ..BuiltSystem::of(&okta)
        }),
        opa.as_ref().map(BuiltSystem::of),
        built::<google::Google>(org.google.as_ref(), config),
        built::<github::Github>(org.github.as_ref(), config),
        built::<gitlab::Gitlab>(org.gitlab.as_ref(), config),
        built::<slack::Slack>(org.slack.as_ref(), config),
        built::<aws::Aws>(org.aws.as_ref(), config),
        built::<jira::Jira>(org.jira.as_ref(), config),
        built::<salesforce::Salesforce>(org.salesforce.as_ref(), config),
        built::<scim::Scim>(org.scim.as_ref(), config),
        built::<datadog::Datadog>(org.datadog.as_ref(), config),
        built::<bamboohr::Bamboohr>(org.bamboohr.as_ref(), config),
        built::<vault::Vault>(org.vault.as_ref(), config).map(|sys| BuiltSystem {
            service: true,
            ..sys
        }),
        built::<smtp::Smtp>(org.smtp.as_ref(), config).map(|sys| BuiltSystem {
            service: true,
            ..sys
        }),
    ]
    .into_iter()
    .flatten()
    .collect()
}
