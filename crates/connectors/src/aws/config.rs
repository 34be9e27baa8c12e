//! AWS IAM Identity Center connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region the Identity Center instance lives in (e.g. `eu-west-1`). Required against AWS; against an
    /// `endpoint_url` it defaults to `us-east-1`, which only the signature's credential scope carries.
    #[serde(default)]
    pub region: Option<String>,
    /// Sends both services' calls here instead of AWS's regional endpoints (an emulator, moto). `base_url` is
    /// accepted too, the name `grantflow init --sandbox` writes for every system.
    #[serde(default, alias = "base_url")]
    pub endpoint_url: Option<String>,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// `arn:aws:sso:::instance/ssoins-…`; found with `ListInstances` when absent.
    #[serde(default)]
    pub instance_arn: Option<String>,
    /// `d-…`; found with `ListInstances` when absent.
    #[serde(default)]
    pub identity_store_id: Option<String>,
    /// The IAM access key id of a principal allowed the identitystore and sso-admin calls.
    pub access_key_id: SecretSource,
    pub secret_access_key: SecretSource,
    /// AWS account id → the name policies use for it (`account/<name>`); accounts not listed are named by
    /// their id. Listed accounts are synced even when no permission set is provisioned to them yet.
    #[serde(default)]
    pub account_names: BTreeMap<String, String>,
    /// Reads the synced accounts' names and tags from AWS Organizations (`ListAccounts`, `ListTagsForResource`),
    /// which production reach classifies accounts by (e.g. `environment: production`). Organizations answers
    /// only the management account or a delegated administrator: elsewhere the sync goes on without tags and
    /// says why in each account's `tags_unavailable` attribute.
    #[serde(default = "default_account_tags")]
    pub account_tags: bool,
    /// Per-attempt timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Attempts per call, the SDK's standard retry (throttling and 5xx are retried with backoff).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How many times `apply` reads an account assignment request's status before handing the wait to the
    /// engine (which then observes whether the assignment landed).
    #[serde(default = "default_status_polls")]
    pub status_polls: u32,
    /// The first wait between status reads; each further wait doubles, up to 5 s.
    #[serde(default = "default_status_poll_ms")]
    pub status_poll_ms: u64,
}

fn default_account_tags() -> bool {
    true
}

fn default_max_attempts() -> u32 {
    3
}

fn default_status_polls() -> u32 {
    6
}

fn default_status_poll_ms() -> u64 {
    250
}
