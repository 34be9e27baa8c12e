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
    /// A secret named in one line, as flow files and webhook settings write it: `env:NAME` or `file:PATH`;
    /// `None` for anything else (a secret written out in place is never taken).
    pub fn from_reference(reference: &str) -> Option<SecretSource> {
        match reference.trim().split_once(':') {
            Some(("env", name)) if !name.is_empty() => Some(SecretSource {
                env: Some(name.to_string()),
                file: None,
            }),
            Some(("file", path)) if !path.is_empty() => Some(SecretSource {
                env: None,
                file: Some(path.into()),
            }),
            _ => None,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::SecretSource;

    #[test]
    fn a_reference_names_a_variable_or_a_file_and_nothing_else() {
        assert_eq!(
            SecretSource::from_reference("env:SIEM_SECRET").and_then(|s| s.env),
            Some("SIEM_SECRET".to_string())
        );
        assert_eq!(
            SecretSource::from_reference(" file:secrets/jira ").and_then(|s| s.file),
            Some("secrets/jira".into())
        );
        for written_out in ["s3cr3t", "env:", "file:", "vault:x", ""] {
            assert!(
                SecretSource::from_reference(written_out).is_none(),
                "{written_out}"
            );
        }
    }
}
