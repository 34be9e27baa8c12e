//! Where a connection's secret comes from: an environment variable or a
//! file, never the configuration or a policy file itself.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

use crate::Failure;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// Name of an environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
    /// Path of a file holding the secret (surrounding whitespace ignored).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret; a relative `file` is relative to `base` (the folder
    /// of the configuration that named it). Errors name the variable or
    /// file, never the value.
    pub fn read(&self, what: &str, base: &std::path::Path) -> Result<SecretString, Failure> {
        match (&self.env, &self.file) {
            (Some(name), None) => match std::env::var(name) {
                Ok(value) if !value.trim().is_empty() => {
                    Ok(SecretString::from(value.trim().to_string()))
                }
                _ => Err(Failure::Config {
                    message: format!("{what}: environment variable {name} is not set or empty"),
                }),
            },
            (None, Some(path)) => match std::fs::read_to_string(base.join(path)) {
                Ok(value) if !value.trim().is_empty() => {
                    Ok(SecretString::from(value.trim().to_string()))
                }
                Ok(_) => Err(Failure::Config {
                    message: format!("{what}: file {} is empty", path.display()),
                }),
                Err(error) => Err(Failure::Config {
                    message: format!("{what}: cannot read {}: {error}", path.display()),
                }),
            },
            _ => Err(Failure::Config {
                message: format!("{what}: give exactly one of `env` or `file`"),
            }),
        }
    }
}
