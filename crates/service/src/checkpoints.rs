//! Signed checkpoints of the audit chain's head, kept outside the database.
//!
//! The hash chain alone catches an edit made behind grantflow's back, but not
//! a writer of the database who edits an event and then recomputes every
//! later hash and the recorded head. A checkpoint records, at a moment, the
//! head's sequence number and hash, signed with an Ed25519 key that is never
//! in the database; `verify_with_checkpoints` then requires the chain to
//! still pass through every checkpoint. A rewrite, a deletion, a reordering,
//! a truncation or a wiped table before the newest checkpoint is caught;
//! events after it are protected by the chain alone until the next one.
//!
//! The key is a PKCS#8 PEM file (`grantflow audit keygen` writes one; so does
//! `openssl genpkey -algorithm ed25519`), named in grantflow.yaml as a
//! secret source:
//!
//! ```yaml
//! audit:
//!   signing_key: { file: .grantflow/audit.key }
//!   checkpoints: .grantflow/audit-checkpoints.jsonl
//!   # public_keys: [ "ed25519:…" ]   # earlier keys, or a verifier's only key
//! ```
//!
//! Checkpoints go to a [`CheckpointLog`]: today an append-only JSON Lines
//! file ([`JsonLinesLog`]); an object store with retention would be another.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use grantflow_store::{ChainAnchor, Store, Verification};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{AuditSettings, Config};
use crate::{Result, ServiceError};

/// The version of the checkpoint format (and of its signed encoding).
pub const FORMAT_VERSION: u32 = 1;

/// What the signature covers first, so a checkpoint signature can never be
/// taken for a signature over anything else.
const SIGNING_CONTEXT: &str = "grantflow-audit-checkpoint";

/// One signed statement: "at `at`, the audit chain held `events` events and
/// its head was event `seq` with hash `head`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u32,
    /// The head's sequence number (0: the empty chain).
    pub seq: i64,
    /// The head's hash (`grantflow_store::GENESIS` for the empty chain).
    pub head: String,
    /// How many events the chain held (the events are numbered from 1, so
    /// this is `seq`; signed separately so a reader need not know that).
    pub events: i64,
    /// When it was taken, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// The signing key's id ([`PublicKey::key_id`]).
    pub key_id: String,
    /// Ed25519 over [`Checkpoint::signed_bytes`], base64.
    pub signature: String,
}

impl Checkpoint {
    /// The canonical encoding that is signed: a JSON array of strings (the
    /// context, then version, seq, head, events, at, key_id), so no field
    /// boundary is ambiguous, as in the chain's own hashes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let fields = [
            SIGNING_CONTEXT.to_string(),
            self.version.to_string(),
            self.seq.to_string(),
            self.head.clone(),
            self.events.to_string(),
            self.at.clone(),
            self.key_id.clone(),
        ];
        serde_json::to_vec(&fields).unwrap_or_default()
    }

    pub fn taken_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The anchor the chain must still pass through.
    pub fn anchor(&self, position: &str) -> ChainAnchor {
        ChainAnchor {
            seq: self.seq,
            hash: self.head.clone(),
            label: format!("the checkpoint of {} ({position})", self.at),
        }
    }
}

/// An Ed25519 public key: `ed25519:` and the 32 raw bytes in base64.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn parse(text: &str) -> std::result::Result<PublicKey, String> {
        let encoded = text
            .trim()
            .strip_prefix("ed25519:")
            .ok_or_else(|| format!("{text:?} is not an ed25519:BASE64 public key"))?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|e| format!("{text:?} is not an ed25519:BASE64 public key: {e}"))?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{text:?} is not 32 bytes: not an Ed25519 public key"))?;
        Ok(PublicKey(raw))
    }

    /// A short, stable name of the key: the first 128 bits of the SHA-256 of
    /// its raw bytes, in hex.
    pub fn key_id(&self) -> String {
        let mut digest = grantflow_model::sha256_hex(&self.0);
        digest.truncate(32);
        digest
    }

    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ed25519:{}", BASE64.encode(self.0))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The private key that signs checkpoints. Its `Debug` shows the key id only.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(key id {})", self.public.key_id())
    }
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

impl SigningKey {
    /// A new key, and its PKCS#8 PEM text to keep.
    pub fn generate() -> Result<(SigningKey, SecretString)> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| ServiceError::Config("cannot generate an Ed25519 key".into()))?;
        let der = secrecy::SecretBox::new(Box::new(document.as_ref().to_vec()));
        let key = SigningKey::from_der(der.expose_secret())?;
        let encoded = SecretString::from(BASE64.encode(der.expose_secret()));
        // Sized up front so no copy of the key is left behind by a regrowth.
        let mut pem = String::with_capacity(
            PEM_BEGIN.len() + PEM_END.len() + 2 + encoded.expose_secret().len() * 65 / 64 + 1,
        );
        pem.push_str(PEM_BEGIN);
        pem.push('\n');
        for line in encoded.expose_secret().as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        Ok((key, SecretString::from(pem)))
    }

    /// Reads a PKCS#8 PEM Ed25519 private key. Errors never show the text.
    pub fn from_pem(pem: &SecretString) -> Result<SigningKey> {
        let not_a_key = |why: &str| {
            ServiceError::Config(format!(
                "audit.signing_key: not a PKCS#8 PEM Ed25519 private key ({why})"
            ))
        };
        let text = pem.expose_secret().trim();
        let body = text
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or_else(|| not_a_key("expected -----BEGIN PRIVATE KEY-----"))?;
        let base64: SecretString = body
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>()
            .into();
        let der = secrecy::SecretBox::new(Box::new(
            BASE64
                .decode(base64.expose_secret())
                .map_err(|_| not_a_key("its body is not base64"))?,
        ));
        SigningKey::from_der(der.expose_secret())
    }

    fn from_der(der: &[u8]) -> Result<SigningKey> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|rejected| {
            ServiceError::Config(format!(
                "audit.signing_key: not an Ed25519 private key ({rejected})"
            ))
        })?;
        let raw: [u8; 32] = pair.public_key().as_ref().try_into().map_err(|_| {
            ServiceError::Config("audit.signing_key: unexpected public key length".into())
        })?;
        Ok(SigningKey {
            pair,
            public: PublicKey(raw),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs a checkpoint of the head (`seq`, `head`) taken at `at`.
    pub fn sign(&self, seq: i64, head: &str, at: DateTime<Utc>) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            version: FORMAT_VERSION,
            seq,
            head: head.to_string(),
            events: seq,
            at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            key_id: self.public.key_id(),
            signature: String::new(),
        };
        let signature = self.pair.sign(&checkpoint.signed_bytes());
        checkpoint.signature = BASE64.encode(signature.as_ref());
        checkpoint
    }
}

/// One record of a checkpoint log: where it is (e.g. "line 3") and the
/// checkpoint, or why it is not one.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub position: String,
    pub checkpoint: std::result::Result<Checkpoint, String>,
}

/// Where checkpoints are kept, outside the database: appended to, never
/// rewritten, and read back whole by `verify`.
#[async_trait::async_trait]
pub trait CheckpointLog: Send + Sync {
    /// Names the place, for messages.
    fn describe(&self) -> String;
    async fn append(&self, checkpoint: &Checkpoint) -> Result<()>;
    /// Every record, in the order written (nothing when there is no log yet).
    async fn read(&self) -> Result<Vec<LogEntry>>;
}

/// An append-only JSON Lines file, one checkpoint per line, created
/// readable by its owner only and appended to with `O_APPEND`, never through
/// a symbolic link.
#[derive(Debug, Clone)]
pub struct JsonLinesLog {
    path: PathBuf,
}

impl JsonLinesLog {
    pub fn new(path: impl Into<PathBuf>) -> JsonLinesLog {
        JsonLinesLog { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_for_append(&self) -> std::io::Result<std::fs::File> {
        if let Some(parent) = self.path.parent()
            && !parent.as_os_str().is_empty()
        {
            crate::files::private_dir(parent)?;
        }
        match crate::files::new_private(&self.path) {
            Ok(file) => return Ok(file),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        // It exists: it must be a regular file, and the one opened must be
        // the one looked at (not a link put there in between).
        let seen = std::fs::symlink_metadata(&self.path)?;
        if !seen.file_type().is_file() {
            return Err(std::io::Error::other(
                "not a regular file (a symbolic link or a folder is refused)",
            ));
        }
        let file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let opened = file.metadata()?;
            if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
                return Err(std::io::Error::other("the file was replaced while opening"));
            }
        }
        Ok(file)
    }
}

#[async_trait::async_trait]
impl CheckpointLog for JsonLinesLog {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn append(&self, checkpoint: &Checkpoint) -> Result<()> {
        let mut line = serde_json::to_vec(checkpoint).map_err(|e| ServiceError::Other(e.into()))?;
        line.push(b'\n');
        let log = self.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = log.open_for_append()?;
            // One write of the whole line: O_APPEND puts it at the end, after
            // any other writer's.
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .map_err(|e| ServiceError::Other(e.into()))?
        .map_err(|e| {
            ServiceError::Other(anyhow::anyhow!(
                "appending a checkpoint to {}: {e}",
                self.describe()
            ))
        })
    }

    async fn read(&self) -> Result<Vec<LogEntry>> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(ServiceError::Other(anyhow::anyhow!(
                    "reading checkpoints from {}: {error}",
                    self.describe()
                )));
            }
        };
        Ok(text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| LogEntry {
                position: format!("line {}", index + 1),
                checkpoint: serde_json::from_str(line)
                    .map_err(|e| format!("not a checkpoint: {e}")),
            })
            .collect())
    }
}

/// The keys checkpoints may be signed with: the configured signing key's
/// public half and any configured `public_keys`.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<PublicKey>);

impl TrustedKeys {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> TrustedKeys {
        let mut unique: Vec<PublicKey> = Vec::new();
        for key in keys {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        TrustedKeys(unique)
    }

    /// Checks a checkpoint's form and signature; the reason when refused.
    pub fn check(&self, checkpoint: &Checkpoint) -> std::result::Result<(), String> {
        if checkpoint.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not one this grantflow reads",
                checkpoint.version
            ));
        }
        if checkpoint.seq < 0 || checkpoint.events != checkpoint.seq {
            return Err(format!(
                "it records {} events for head #{}: not a checkpoint grantflow writes",
                checkpoint.events, checkpoint.seq
            ));
        }
        if checkpoint.taken_at().is_none() {
            return Err(format!("its time {:?} is not RFC 3339", checkpoint.at));
        }
        let Some(key) = self.0.iter().find(|k| k.key_id() == checkpoint.key_id) else {
            return Err(format!(
                "it names key {}, which is not a configured key: forged, or signed by a key not listed in audit.public_keys",
                checkpoint.key_id
            ));
        };
        let signature = BASE64
            .decode(&checkpoint.signature)
            .map_err(|_| "its signature is not base64: forged or altered".to_string())?;
        if !key.verifies(&checkpoint.signed_bytes(), &signature) {
            return Err(format!(
                "its signature does not verify with key {}: forged or altered",
                checkpoint.key_id
            ));
        }
        Ok(())
    }
}

/// A checkpoint log record that was refused: forged, altered, unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub position: String,
    pub reason: String,
}

/// What the checkpoints said.
#[derive(Debug, Clone)]
pub struct CheckpointSummary {
    /// Where they are kept.
    pub log: String,
    /// Checkpoints whose signature verified and that the chain was checked against.
    pub checked: usize,
    pub rejected: Vec<Rejected>,
    /// The checkpoint of the highest head.
    pub newest: Option<Checkpoint>,
    /// How long ago the newest was taken (by the store's clock).
    pub newest_age: Option<chrono::Duration>,
}

/// `audit verify` with checkpoints: the chain (broken at an event when it
/// no longer passes through a checkpoint) and the checkpoints themselves.
#[derive(Debug, Clone)]
pub struct AuditVerification {
    pub chain: Verification,
    /// `None` when no checkpoints are configured: then a writer of the
    /// database could rewrite the chain and its head undetected.
    pub checkpoints: Option<CheckpointSummary>,
}

impl AuditVerification {
    /// The chain is intact, passes through every checkpoint, and no
    /// checkpoint record was refused.
    pub fn is_intact(&self) -> bool {
        matches!(self.chain, Verification::Intact { .. })
            && self
                .checkpoints
                .as_ref()
                .is_none_or(|summary| summary.rejected.is_empty())
    }

    /// Events after the newest checkpoint (protected by the chain alone).
    pub fn uncovered_events(&self) -> Option<i64> {
        let Verification::Intact { events, .. } = &self.chain else {
            return None;
        };
        let newest = self
            .checkpoints
            .as_ref()
            .and_then(|s| s.newest.as_ref())
            .map_or(0, |c| c.seq);
        Some(i64::try_from(*events).unwrap_or(i64::MAX) - newest)
    }
}

/// The configured audit settings, or why checkpoints cannot be used.
fn settings(config: &Config) -> Result<&AuditSettings> {
    config.audit.as_ref().ok_or_else(|| {
        ServiceError::Config(
            "no audit checkpoints are configured: add `audit: { signing_key: { file: .grantflow/audit.key }, checkpoints: .grantflow/audit-checkpoints.jsonl }` to grantflow.yaml and run `grantflow audit keygen`".into(),
        )
    })
}

/// Reads the configured signing key (a PKCS#8 PEM Ed25519 private key).
pub fn signing_key(config: &Config) -> Result<SigningKey> {
    let settings = settings(config)?;
    let source = settings.signing_key.as_ref().ok_or_else(|| {
        ServiceError::Config(
            "audit.signing_key is not set: this host can verify checkpoints but not write them"
                .into(),
        )
    })?;
    let pem = source
        .read("audit.signing_key", &config.base_dir)
        .map_err(|failure| {
            ServiceError::Config(format!(
                "{} (run `grantflow audit keygen` to make a key)",
                failure.message()
            ))
        })?;
    SigningKey::from_pem(&pem)
}

/// The keys checkpoints are checked with: the signing key's public half
/// (when this host has it) and `audit.public_keys`.
pub fn trusted_keys(config: &Config) -> Result<TrustedKeys> {
    let signing = match settings(config)?.signing_key {
        Some(_) => Some(signing_key(config)?),
        None => None,
    };
    trusted_keys_with(config, signing.as_ref())
}

fn trusted_keys_with(config: &Config, signing: Option<&SigningKey>) -> Result<TrustedKeys> {
    let mut keys: Vec<PublicKey> = signing
        .map(|k| k.public_key().clone())
        .into_iter()
        .collect();
    for text in &settings(config)?.public_keys {
        keys.push(
            PublicKey::parse(text)
                .map_err(|e| ServiceError::Config(format!("audit.public_keys: {e}")))?,
        );
    }
    Ok(TrustedKeys::new(keys))
}

/// The configured checkpoint log.
pub fn log(config: &Config) -> Result<JsonLinesLog> {
    Ok(JsonLinesLog::new(settings(config)?.checkpoints.clone()))
}

/// Signs the chain's current head and appends the checkpoint to the
/// configured log; what the server calls on a schedule. Refuses (writing
/// nothing) when the chain no longer passes through the newest checkpoint or
/// is broken after it: a checkpoint never vouches for a rewritten chain.
pub async fn write_checkpoint(store: &Store, config: &Config) -> Result<Checkpoint> {
    let key = signing_key(config)?;
    let trusted = trusted_keys_with(config, Some(&key))?;
    write_checkpoint_to(store, &key, &trusted, &log(config)?).await
}

/// [`write_checkpoint`] with the key, the trusted keys and the log given.
pub async fn write_checkpoint_to(
    store: &Store,
    key: &SigningKey,
    trusted: &TrustedKeys,
    log: &dyn CheckpointLog,
) -> Result<Checkpoint> {
    let newest = log
        .read()
        .await?
        .into_iter()
        .filter_map(|entry| {
            let checkpoint = entry.checkpoint.ok()?;
            trusted.check(&checkpoint).ok()?;
            Some((entry.position, checkpoint))
        })
        .max_by_key(|(_, checkpoint)| checkpoint.seq);
    let anchor = newest
        .as_ref()
        .map(|(position, checkpoint)| checkpoint.anchor(position));
    match store.verify_audit_since(anchor.as_ref()).await? {
        Verification::Intact { events, head } => {
            let seq = i64::try_from(events)
                .map_err(|_| ServiceError::Invalid("the audit chain is too long".into()))?;
            let checkpoint = key.sign(seq, &head, store.now());
            log.append(&checkpoint).await?;
            tracing::info!(
                seq,
                key_id = %checkpoint.key_id,
                log = %log.describe(),
                "audit checkpoint written"
            );
            Ok(checkpoint)
        }
        Verification::Broken { seq, id, reason } => Err(ServiceError::refused(
            "audit_chain_broken",
            format!(
                "the audit chain is broken at event #{seq}{}: {reason}; no checkpoint written (run `grantflow audit verify`)",
                if id.is_empty() {
                    String::new()
                } else {
                    format!(" ({id})")
                }
            ),
        )),
    }
}

/// Checks the chain as `audit verify` always did, and against every
/// checkpoint in the configured log: each must be signed by a trusted key,
/// and the chain must still hold, at each checkpoint's sequence number, the
/// hash it recorded. Without an `audit:` section only the chain is checked
/// (`checkpoints` is `None`).
pub async fn verify_with_checkpoints(
    store: &Store,
    config: Option<&Config>,
) -> Result<AuditVerification> {
    let Some(config) = config.filter(|c| c.audit.is_some()) else {
        return Ok(AuditVerification {
            chain: store.verify_audit().await?,
            checkpoints: None,
        });
    };
    let log = log(config)?;
    let entries = log.read().await?;
    // Keys are needed only once there is something to check with them.
    let trusted = if entries.is_empty() {
        TrustedKeys::default()
    } else {
        trusted_keys(config)?
    };
    verify_entries(store, &trusted, log.describe(), entries).await
}

/// [`verify_with_checkpoints`] with the trusted keys and the log given.
pub async fn verify_against_log(
    store: &Store,
    trusted: &TrustedKeys,
    log: &dyn CheckpointLog,
) -> Result<AuditVerification> {
    let entries = log.read().await?;
    verify_entries(store, trusted, log.describe(), entries).await
}

async fn verify_entries(
    store: &Store,
    trusted: &TrustedKeys,
    log: String,
    entries: Vec<LogEntry>,
) -> Result<AuditVerification> {
    let mut rejected = Vec::new();
    let mut valid: Vec<(String, Checkpoint)> = Vec::new();
    for entry in entries {
        match entry.checkpoint.and_then(|c| trusted.check(&c).map(|()| c)) {
            Ok(checkpoint) => valid.push((entry.position, checkpoint)),
            Err(reason) => rejected.push(Rejected {
                position: entry.position,
                reason,
            }),
        }
    }
    let anchors: Vec<ChainAnchor> = valid
        .iter()
        .map(|(position, checkpoint)| checkpoint.anchor(position))
        .collect();
    let chain = store.verify_audit_against(&anchors).await?;
    let newest = valid
        .into_iter()
        .map(|(_, checkpoint)| checkpoint)
        .max_by(|a, b| (a.seq, &a.at).cmp(&(b.seq, &b.at)));
    let newest_age = newest
        .as_ref()
        .and_then(Checkpoint::taken_at)
        .map(|at| store.now() - at);
    Ok(AuditVerification {
        chain,
        checkpoints: Some(CheckpointSummary {
            log,
            checked: anchors.len(),
            rejected,
            newest,
            newest_age,
        }),
    })
}

/// Makes a new signing key at `path` (owner-only, never replacing a file
/// that is there) and returns its public key.
pub fn keygen(path: &Path) -> Result<PublicKey> {
    let (key, pem) = SigningKey::generate()?;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        crate::files::private_dir(parent).map_err(|e| {
            ServiceError::Other(anyhow::anyhow!("creating {}: {e}", parent.display()))
        })?;
    }
    let mut file = crate::files::new_private(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            ServiceError::Refused {
                code: "key_exists",
                message: format!(
                    "{} already exists: a new key is never written over one (move it aside first, and list its public key in audit.public_keys so checkpoints it signed still verify)",
                    path.display()
                ),
            }
        } else {
            ServiceError::Other(anyhow::anyhow!("creating {}: {error}", path.display()))
        }
    })?;
    file.write_all(pem.expose_secret().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| ServiceError::Other(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    Ok(key.public_key().clone())
}

/// Where `keygen` writes by default: the configured `audit.signing_key.file`.
pub fn configured_key_file(config: &Config) -> Option<PathBuf> {
    let file = config.audit.as_ref()?.signing_key.as_ref()?.file.as_ref()?;
    Some(config.base_dir.join(file))
}

#[cfg(test)]
mod tests;
