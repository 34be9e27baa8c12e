//! `grantflow token create | list | revoke`: API tokens in the local store.
//! The token is printed once, at creation; the store keeps only its hash.

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_service::access::parse_role;
use grantflow_service::tokens::{self, TokenRequest, parse_lifetime};
use grantflow_store::Store;
use secrecy::ExposeSecret;

use crate::app::actor;

pub async fn create(
    store: &Store,
    name: String,
    roles: &[String],
    expires_in: &str,
) -> anyhow::Result<ExitCode> {
    let request = TokenRequest {
        name,
        roles: roles
            .iter()
            .map(|r| parse_role(r))
            .collect::<Result<Vec<_>, _>>()?,
        expires_in: parse_lifetime(expires_in)?,
    };
    let created = tokens::create(store, &actor(), &request).await?;
    let record = &created.record;
    eprintln!(
        "created token {} ({}) for {}, expiring {}; it is shown this once and cannot be read back:",
        record.id,
        record.name,
        record.roles.join(", "),
        record.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    println!("{}", created.token.expose_secret());
    Ok(ExitCode::SUCCESS)
}

pub async fn list(store: &Store) -> anyhow::Result<ExitCode> {
    let tokens = tokens::list(store, &actor()).await?;
    if tokens.is_empty() {
        println!("no API tokens (make one with `grantflow token create`)");
        return Ok(ExitCode::SUCCESS);
    }
    let now = store.now();
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
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    let token = tokens::revoke(store, &actor(), id).await?;
    println!("revoked token {} ({})", token.id, token.name);
    Ok(ExitCode::SUCCESS)
}
