//! `grantflow token create | list | revoke`: API tokens in the local store,
//! or through a server's API with `--server`. The token is printed once, at
//! creation; the store keeps only its hash.

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_service::access::parse_role;
use grantflow_service::tokens::{self, TokenRequest, parse_lifetime};
use grantflow_store::{Store, TokenRecord};
use secrecy::ExposeSecret;

use crate::app::actor;

pub async fn create(
    store: &Store,
    name: String,
    roles: &[String],
    expires_in: &str,
    person: Option<String>,
) -> anyhow::Result<ExitCode> {
    let request = TokenRequest {
        name,
        roles: roles
            .iter()
            .map(|r| parse_role(r))
            .collect::<Result<Vec<_>, _>>()?,
        expires_in: parse_lifetime(expires_in)?,
        person,
    };
    let created = tokens::create(store, &actor(), &request).await?;
    print_created(&created.record, created.token.expose_secret());
    Ok(ExitCode::SUCCESS)
}

fn print_created(record: &TokenRecord, token: &str) {
    eprintln!(
        "created token {} ({}) for {}, expiring {}; it is shown this once and cannot be read back:",
        record.id,
        record.name,
        record.roles.join(", "),
        record.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    println!("{token}");
}

pub async fn list(store: &Store) -> anyhow::Result<ExitCode> {
    let tokens = tokens::list(store, &actor()).await?;
    print_list(tokens, store.now());
    Ok(ExitCode::SUCCESS)
}

fn print_list(tokens: Vec<TokenRecord>, now: chrono::DateTime<chrono::Utc>) {
    if tokens.is_empty() {
        println!("no API tokens (make one with `grantflow token create`)");
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "id",
        "name",
        "roles",
        "created by",
        "expires",
        "last used",
        "state",
    ]);
    for token in tokens {
        let state = if token.revoked_at.is_some() {
            "revoked"
        } else if token.expires_at <= now {
            "expired"
        } else {
            "active"
        };
        table.add_row(vec![
            token.id,
            token.name,
            token.roles.join(", "),
            token.created_by,
            token.expires_at.format("%Y-%m-%d %H:%M").to_string(),
            token
                .last_used_at
                .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            state.to_string(),
        ]);
    }
    println!("{table}");
}

pub async fn revoke(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    let token = tokens::revoke(store, &actor(), id).await?;
    println!("revoked token {} ({})", token.id, token.name);
    Ok(ExitCode::SUCCESS)
}

/// The same three through a server's API (`/api/v1/tokens`), as its administrator.
pub mod remote {
    use super::*;
    use crate::remote::Remote;

    #[derive(serde::Deserialize)]
    struct Created {
        #[serde(flatten)]
        record: TokenRecord,
        token: String,
    }

    #[derive(serde::Deserialize)]
    struct Listed {
        items: Vec<TokenRecord>,
    }

    pub async fn create(
        remote: &Remote,
        name: String,
        roles: &[String],
        expires_in: &str,
        person: Option<String>,
    ) -> anyhow::Result<ExitCode> {
        let body = serde_json::json!({ "name": name, "roles": roles, "expires_in": expires_in, "person": person });
        let created: Created = remote.post(&["tokens"], Some(&body)).await?;
        print_created(&created.record, &created.token);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn list(remote: &Remote) -> anyhow::Result<ExitCode> {
        let listed: Listed = remote.get(&["tokens"], &[]).await?;
        print_list(listed.items, chrono::Utc::now());
        Ok(ExitCode::SUCCESS)
    }

    pub async fn revoke(remote: &Remote, id: &str) -> anyhow::Result<ExitCode> {
        let token: TokenRecord = remote.delete(&["tokens", id]).await?;
        println!("revoked token {} ({})", token.id, token.name);
        Ok(ExitCode::SUCCESS)
    }
}
