//! BambooHR connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::{Failure, SecretSource};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BamboohrConfig {
    /// The company's BambooHR subdomain (`acme` for `https://acme.bamboohr.com`).
    pub company_domain: String,
    /// Where the API is, when not `https://{company_domain}.bamboohr.com` (the sandbox's URL); `/api/v1/…` is
    /// added.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Allows plain `http` to a host that is not loopback: the API key would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// An API key of a BambooHR user who may read the employee fields synced (sent as the Basic-auth user
    /// name, with `x` as the password).
    pub api_key: SecretSource,
    /// The private key BambooHR showed once when the webhook was created; deliveries to
    /// `/hooks/bamboohr/{connection}` are checked against it. Without it, webhooks are not received.
    #[serde(default)]
    pub webhook_private_key: Option<SecretSource>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

/// The settings the transport reads, with the base URL resolved.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub base_url: String,
    pub allow_insecure_http: bool,
    pub timeout_seconds: u64,
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(Resolved);

impl BamboohrConfig {
    /// The transport settings: the configured base URL, or the company's own BambooHR host.
    pub(crate) fn resolved(&self) -> Result<Resolved, Failure> {
        let domain = self.company_domain.trim();
        let valid = !domain.is_empty()
            && domain.len() <= 63
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !domain.starts_with('-')
            && !domain.ends_with('-');
        if !valid {
            return Err(Failure::config(format!(
                "bamboohr company_domain \"{domain}\" is not a BambooHR subdomain (letters, digits and '-', as in https://<company_domain>.bamboohr.com)"
            )));
        }
        Ok(Resolved {
            base_url: self
                .base_url
                .clone()
                .unwrap_or_else(|| format!("https://{domain}.bamboohr.com/")),
            allow_insecure_http: self.allow_insecure_http,
            timeout_seconds: self.timeout_seconds,
            max_rate_limit_waits: self.max_rate_limit_waits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(domain: &str, base_url: Option<&str>) -> BamboohrConfig {
        BamboohrConfig {
            company_domain: domain.into(),
            base_url: base_url.map(str::to_string),
            allow_insecure_http: false,
            api_key: SecretSource {
                env: Some("BAMBOOHR_API_KEY".into()),
                file: None,
            },
            webhook_private_key: None,
            timeout_seconds: 30,
            max_rate_limit_waits: 5,
        }
    }

    #[test]
    fn the_company_domain_names_the_host_unless_a_base_url_is_given() {
        assert_eq!(
            config("acme-corp", None)
                .resolved()
                .expect("valid")
                .base_url,
            "https://acme-corp.bamboohr.com/"
        );
        assert_eq!(
            config("acme", Some("http://127.0.0.1:9000"))
                .resolved()
                .expect("valid")
                .base_url,
            "http://127.0.0.1:9000"
        );
        for bad in ["", "acme.evil.com", "acme/x", "-acme", "a b"] {
            let err = config(bad, None).resolved().expect_err("refused");
            assert!(err.message().contains("company_domain"), "{bad}: {err:?}");
        }
    }
}
