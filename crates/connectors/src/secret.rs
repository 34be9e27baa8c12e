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

/// The one-time secrets (temporary passwords, activation links) a connector's creations produced, held
/// in memory only until the caller takes each one once, keyed by the operation's natural key.
#[derive(Debug, Default)]
pub(crate) struct OneTimeSecrets(std::sync::Mutex<std::collections::HashMap<String, SecretString>>);

impl OneTimeSecrets {
    /// Holds `secret` (when there is one) for `op` until [`OneTimeSecrets::take`].
    pub(crate) fn keep(&self, op: &grantflow_model::Operation, secret: Option<SecretString>) {
        if let (Some(secret), Ok(mut secrets)) = (secret, self.0.lock()) {
            secrets.insert(op.natural_key(), secret);
        }
    }

    /// The secret `op` produced, once.
    pub(crate) fn take(&self, op: &grantflow_model::Operation) -> Option<SecretString> {
        self.0.lock().ok()?.remove(&op.natural_key())
    }
}

/// A temporary password the vendors' default policies accept (Okta's: upper and lower case, digits, a
/// symbol; Google's: 8 to 100 characters), 20 characters from the operating system's generator, with
/// look-alike characters left out. Handed out once as a one-time secret; kept nowhere.
pub(crate) fn temporary_password() -> String {
    use rand::Rng;
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#%+-=?@_";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| char::from(set[rng.random_range(0..set.len())]);
    let mut password: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    while password.len() < 20 {
        password.push(pick(&all));
    }
    // The four classes are at the start; shuffle so the positions say nothing.
    for i in (1..password.len()).rev() {
        let j = rng.random_range(0..=i);
        password.swap(i, j);
    }
    password.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::SecretSource;
    use super::temporary_password;

    #[test]
    fn temporary_passwords_have_every_class_and_differ() {
        let first = temporary_password();
        assert_eq!(first.chars().count(), 20);
        assert!(first.chars().any(|c| c.is_ascii_lowercase()));
        assert!(first.chars().any(|c| c.is_ascii_uppercase()));
        assert!(first.chars().any(|c| c.is_ascii_digit()));
        assert!(first.chars().any(|c| !c.is_ascii_alphanumeric()));
        assert_ne!(first, temporary_password());
    }

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
