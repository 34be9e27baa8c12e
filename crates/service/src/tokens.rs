//! API tokens: made by an administrator, shown once as
//! `gft_<id>_<secret>` (8 and 32 random bytes, in hex), kept only as the SHA-256 of the
//! secret (enough for a secret of that entropy), compared in constant time,
//! expiring, revocable, and recorded when used. Creation and revocation are
//! audited without the secret.

use std::time::Duration;

use aws_lc_rs::rand::SecureRandom;
use grantflow_store::{NewToken, Store, TokenRecord};
use secrecy::{ExposeSecret, SecretString};

use crate::access::{self, Permission};
use crate::{Actor, Result, Role, ServiceError};

/// What every token starts with, so secret scanners and people recognise it.
pub const TOKEN_PREFIX: &str = "gft_";
/// The longest a token may live.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: String,
    pub roles: Vec<Role>,
    pub expires_in: Duration,
    /// The person (an email) the token acts for: its requests and reviews are theirs.
    pub person: Option<String>,
}

/// A new token: its record, and the token itself, shown once.
#[derive(Debug)]
pub struct CreatedToken {
    pub record: TokenRecord,
    pub token: SecretString,
}

/// Why a presented token does not authenticate anyone. The message is safe
/// to show the caller: it never repeats the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the bearer token is not a grantflow API token (gft_…)")]
    Malformed,
    #[error("the bearer token is not valid")]
    Unknown,
    #[error("the bearer token was revoked")]
    Revoked,
    #[error("the bearer token expired")]
    Expired,
}

/// Durations as people write them: `30d`, `12h`, `90m`, `3600s`.
pub fn parse_lifetime(text: &str) -> Result<Duration> {
    grantflow_policy::parse_duration(text).map_err(ServiceError::Invalid)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn hash_hex(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::Other(anyhow::anyhow!("the system random source failed")))?;
    Ok(bytes)
}

/// Makes a token (administrators only).
pub async fn create(store: &Store, actor: &Actor, request: &TokenRequest) -> Result<CreatedToken> {
    access::authorize(actor, &Permission::ManageTokens)?;
    if !valid_name(&request.name) {
        return Err(ServiceError::Invalid(format!(
            "token name \"{}\" is not allowed: 1 to 64 letters, digits, '-', '_' or '.'",
            request.name
        )));
    }
    if request.roles.is_empty() {
        return Err(ServiceError::Invalid(
            "a token needs at least one role".into(),
        ));
    }
    if request.expires_in < Duration::from_secs(60) || request.expires_in > MAX_LIFETIME {
        return Err(ServiceError::Invalid(
            "a token lives from one minute to 366 days".into(),
        ));
    }
    let id: String = random_bytes::<8>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Hex: no `_` inside the secret, and the whole token selects with a double click.
    let secret: String = random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let expires_in = chrono::Duration::from_std(request.expires_in)
        .map_err(|_| ServiceError::Invalid("the lifetime is too long".into()))?;
    let person = match request.person.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(email) if email.contains('@') && !email.contains(char::is_whitespace) => {
            Some(email.to_lowercase())
        }
        Some(other) => {
            return Err(ServiceError::Invalid(format!(
                "\"{other}\" is not an email: a token acts for a person named by their email"
            )));
        }
    };
    let mut roles: Vec<String> = request.roles.iter().map(access::role_name).collect();
    roles.sort();
    roles.dedup();
    let record = store
        .create_token(
            &NewToken {
                id: id.clone(),
                name: request.name.clone(),
                roles,
                secret_hash: hash_hex(&secret),
                expires_at: store.now() + expires_in,
                person,
            },
            &actor.id,
        )
        .await?;
    Ok(CreatedToken {
        record,
        token: SecretString::from(format!("{TOKEN_PREFIX}{id}_{secret}")),
    })
}

/// Every token, without secrets (administrators only).
pub async fn list(store: &Store, actor: &Actor) -> Result<Vec<TokenRecord>> {
    access::authorize(actor, &Permission::ManageTokens)?;
    Ok(store.tokens().await?)
}

/// Revokes a token at once (administrators only).
pub async fn revoke(store: &Store, actor: &Actor, id: &str) -> Result<TokenRecord> {
    access::authorize(actor, &Permission::ManageTokens)?;
    store
        .revoke_token(id, &actor.id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no token with id \"{id}\"")))
}

/// The actor a presented token stands for (`token:<name>` with its roles),
/// recording its use; a malformed, unknown, revoked or expired token
/// authenticates nobody.
pub async fn authenticate(
    store: &Store,
    presented: &SecretString,
) -> Result<std::result::Result<Actor, AuthFailure>> {
    let presented = presented.expose_secret();
    let Some((id, secret)) = presented
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(Err(AuthFailure::Malformed));
    };
    if id.is_empty() || secret.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(Err(AuthFailure::Malformed));
    }
    let Some((record, stored_hash)) = store.token_with_hash(id).await? else {
        return Ok(Err(AuthFailure::Unknown));
    };
    let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
        hash_hex(secret).as_bytes(),
        stored_hash.as_bytes(),
    )
    .is_ok();
    if !matches {
        return Ok(Err(AuthFailure::Unknown));
    }
    if record.revoked_at.is_some() {
        return Ok(Err(AuthFailure::Revoked));
    }
    if store.now() >= record.expires_at {
        return Ok(Err(AuthFailure::Expired));
    }
    // A role this version does not know (written by a newer one) is left out, never widened.
    let roles = record
        .roles
        .iter()
        .filter_map(|name| access::parse_role(name).ok());
    // The last use is for people deciding what to revoke: to the minute is
    // enough, and a write per call would make every read of the API a write.
    // One call per token and minute in this process writes it; the others,
    // arriving together, must not all queue on the same row.
    let now = store.now();
    let recently_used = record
        .last_used_at
        .is_some_and(|at| now - at < chrono::Duration::minutes(1));
    if !recently_used && claim_touch(id, now) {
        store.touch_token(id).await?;
    }
    let actor = Actor::new(format!("token:{}", record.name), roles);
    Ok(Ok(match &record.person {
        Some(email) => actor.for_person(email),
        None => actor,
    }))
}

/// Whether this call is the one (in this process, this minute) that records
/// the token's use.
fn claim_touch(id: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    static LAST_TOUCH: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
    > = std::sync::LazyLock::new(Default::default);
    let Ok(mut touched) = LAST_TOUCH.lock() else {
        return true;
    };
    match touched.get(id) {
        Some(at) if now - *at < chrono::Duration::minutes(1) => false,
        _ => {
            touched.insert(id.to_string(), now);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::SystemClock;
    use std::sync::Arc;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Store::open(&url, Arc::new(SystemClock))
            .await
            .expect("store")
    }

    #[test]
    fn lifetimes_read_as_people_write_them() {
        assert_eq!(
            parse_lifetime("30d").expect("d"),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            parse_lifetime("12h").expect("h"),
            Duration::from_secs(12 * 3_600)
        );
        assert_eq!(
            parse_lifetime("90m").expect("m"),
            Duration::from_secs(90 * 60)
        );
        for bad in ["", "d", "30", "30w", "-1d", "1.5d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_token_authenticates_until_revoked_and_its_secret_is_never_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let admin = Actor::new("cli:root", [Role::Admin]);
        let created = create(
            &store,
            &admin,
            &TokenRequest {
                name: "ci".into(),
                roles: vec![Role::Approver, Role::Operator("okta".into())],
                expires_in: Duration::from_secs(3_600),
                person: None,
            },
        )
        .await
        .expect("created");
        let token = created.token.expose_secret().to_string();
        let secret = token.rsplit_once('_').expect("secret").1.to_string();
        assert_eq!(secret.len(), 64, "32 random bytes: {secret}");
        let actor = authenticate(&store, &created.token)
            .await
            .expect("store")
            .expect("authenticated");
        assert_eq!(actor.id, "token:ci");
        assert!(actor.may_operate("okta") && actor.has(&Role::Approver));
        assert!(!actor.has(&Role::Admin));
        let used = store.tokens().await.expect("tokens");
        assert!(used[0].last_used_at.is_some());

        let wrong = SecretString::from(format!(
            "{TOKEN_PREFIX}{}_{}",
            created.record.id,
            "x".repeat(43)
        ));
        assert_eq!(
            authenticate(&store, &wrong).await.expect("store"),
            Err(AuthFailure::Unknown)
        );
        assert_eq!(
            authenticate(&store, &SecretString::from("Bearer nonsense".to_string()))
                .await
                .expect("store"),
            Err(AuthFailure::Malformed)
        );

        revoke(&store, &admin, &created.record.id)
            .await
            .expect("revoked");
        assert_eq!(
            authenticate(&store, &created.token).await.expect("store"),
            Err(AuthFailure::Revoked)
        );
        let dump = grantflow_service_dump(&store).await;
        assert!(
            !dump.contains(&secret),
            "the secret is nowhere in the audit trail"
        );
        assert!(dump.contains("token.created") && dump.contains("token.revoked"));
    }

    async fn grantflow_service_dump(store: &Store) -> String {
        serde_json::to_string(&store.audit_events().await.expect("events")).expect("json")
    }

    #[tokio::test]
    async fn only_administrators_make_tokens() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let approver = Actor::new("token:a", [Role::Approver]);
        let refused = create(
            &store,
            &approver,
            &TokenRequest {
                name: "mine".into(),
                roles: vec![Role::Admin],
                expires_in: Duration::from_secs(3_600),
                person: None,
            },
        )
        .await
        .expect_err("refused");
        assert_eq!(refused.code(), "forbidden");
    }
}
