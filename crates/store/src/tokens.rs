//! API tokens as stored: never the secret, only its SHA-256 (computed by
//! the caller), with the roles, the expiry, the revocation and the last use.
//! Creation and revocation commit with their audit event, which never holds
//! the secret or its hash.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{AuditAction, Result, Store, StoreError, audit, parse_time, timestamp};

/// A token as listed: everything but the secret's hash. The API answers
/// with these fields, so a remote CLI reads them back as this.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// Role names: `admin`, `approver`, `operator:okta`, …
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The person the token acts for (an email), if any.
    #[serde(default)]
    pub person: Option<String>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    pub expires_at: DateTime<Utc>,
    pub person: Option<String>,
}

const TOKEN_COLUMNS: &str =
    "id, name, roles, created_by, created_at, expires_ms, revoked_at, last_used_ms, person";

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<TokenRecord> {
    let id: String = row.try_get("id")?;
    let roles: String = row.try_get("roles")?;
    let roles: Vec<String> =
        serde_json::from_str(&roles).map_err(|source| StoreError::Corrupt {
            what: format!("roles of token {id}"),
            source,
        })?;
    let created_at: String = row.try_get("created_at")?;
    let expires_ms: i64 = row.try_get("expires_ms")?;
    let revoked_at: Option<String> = row.try_get("revoked_at")?;
    let last_used_ms: Option<i64> = row.try_get("last_used_ms")?;
    Ok(TokenRecord {
        person: row.try_get("person")?,
        name: row.try_get("name")?,
        roles,
        created_by: row.try_get("created_by")?,
        created_at: parse_time(&created_at),
        expires_at: DateTime::from_timestamp_millis(expires_ms).ok_or_else(|| {
            StoreError::CorruptRow {
                table: "api_tokens",
                key: id.clone(),
                problem: "expiry out of range".into(),
            }
        })?,
        revoked_at: revoked_at.as_deref().map(parse_time),
        last_used_at: last_used_ms.and_then(DateTime::from_timestamp_millis),
        id,
    })
}

impl Store {
    /// Stores a new token and its `token.created` event (name, roles,
    /// expiry; never the secret or its hash), in one transaction.
    pub async fn create_token(&self, token: &NewToken, actor: &str) -> Result<TokenRecord> {
        let now = self.now();
        let roles = serde_json::to_string(&token.roles).map_err(|source| StoreError::Corrupt {
            what: "token roles".into(),
            source,
        })?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, roles, secret_hash, created_by, created_at, created_ms, expires_ms, person)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&roles)
        .bind(&token.secret_hash)
        .bind(actor)
        .bind(timestamp(now))
        .bind(now.timestamp_millis())
        .bind(token.expires_at.timestamp_millis())
        .bind(token.person.clone())
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            now,
            actor,
            AuditAction::TokenCreated,
            &token.id,
            serde_json::json!({
                "name": token.name,
                "roles": token.roles,
                "expires_at": timestamp(token.expires_at),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(TokenRecord {
            id: token.id.clone(),
            name: token.name.clone(),
            roles: token.roles.clone(),
            created_by: actor.to_string(),
            created_at: parse_time(&timestamp(now)),
            expires_at: token.expires_at,
            revoked_at: None,
            last_used_at: None,
            person: token.person.clone(),
        })
    }

    /// The token with this id and the hash of its secret, to check a
    /// presented token against.
    pub async fn token_with_hash(&self, id: &str) -> Result<Option<(TokenRecord, String)>> {
        if let Some(kept) = self.recent.token(id) {
            return Ok(Some(kept));
        }
        let generation = self.recent.token_generation();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS}, secret_hash FROM api_tokens WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        match row {
            Some(row) => {
                let (record, hash): (TokenRecord, String) =
                    (token_from_row(&row)?, row.try_get("secret_hash")?);
                self.recent.keep_token(generation, &record, &hash);
                Ok(Some((record, hash)))
            }
            None => Ok(None),
        }
    }

    /// Every token, oldest first (revoked and expired ones too).
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_ms, id"
        )))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token with its `token.revoked` event; `None` when there is
    /// no such token, the record unchanged when it was revoked already.
    pub async fn revoke_token(&self, id: &str, actor: &str) -> Result<Option<TokenRecord>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let record = token_from_row(&row)?;
        if record.revoked_at.is_some() {
            return Ok(Some(record));
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(timestamp(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            now,
            actor,
            AuditAction::TokenRevoked,
            id,
            serde_json::json!({ "name": record.name }),
        )
        .await?;
        tx.commit().await?;
        self.recent.forget_token(id);
        Ok(Some(TokenRecord {
            revoked_at: Some(parse_time(&timestamp(now))),
            ..record
        }))
    }

    /// Records that the token was just used.
    pub async fn touch_token(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(self.now().timestamp_millis())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
