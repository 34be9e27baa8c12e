//! A 1Password Connect server (the subset flows use): vaults and items under `/v1`, `GET /heartbeat` and
//! `GET /health`, `Authorization: Bearer <token>`, and Connect's `{"status": …, "message": …}` error bodies.
//!
//! It is not a connector system: no grantflow connector speaks 1Password. Flows reach it through the custom HTTP
//! card (seed 001: a new hire's temporary password stored in the manager's vault), so the sandbox publishes it
//! under `SandboxInfo.services`, not `systems`. Besides the shared admin endpoints (`crate::emulator`),
//! `/__sandbox/items` lists every stored item with its fields, for tests to read what a flow wrote.
//!
//! Wire format from the Connect API reference (1Password Connect API spec 1.8) and the official Python SDK
//! (`onepasswordconnectsdk`): vault and item ids are 26 lower-case letters and digits, timestamps RFC 3339,
//! `filter` is a SCIM `eq` on `name` (vaults) or `title`/`tag` (items).

mod api;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::emulator::{
    Core, CoreAdmin, Emulator, EmulatorConfig, Seeded, Writes, credentials, json_response,
    random_token,
};
use crate::hand_change::HandChange;

/// The organisation file's `vault:` section: the vaults the Connect server's token can see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSeed {
    #[serde(default)]
    pub vaults: Vec<SeedVault>,
}

/// One vault. Its id is derived from the name, so a flow file or a test can rely on it across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedVault {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// False: the vault exists but the Connect token was not granted it, so Connect answers 403 for it and
    /// leaves it out of `GET /v1/vaults`.
    #[serde(default = "granted")]
    pub granted: bool,
}

fn granted() -> bool {
    true
}

impl VaultSeed {
    /// Vault names are how flows find a vault (`filter=name eq "…"`): two with one name would be ambiguous.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for vault in &self.vaults {
            if vault.name.trim().is_empty() {
                anyhow::bail!("vault: a vault has an empty name");
            }
            if !seen.insert(vault.name.as_str()) {
                anyhow::bail!("vault: two vaults are named {:?}", vault.name);
            }
        }
        Ok(())
    }
}

/// A 1Password-style id (26 lower-case letters and digits, what the SDK's `is_valid_uuid` accepts) derived
/// from `name`.
pub fn vault_id(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))[..ID_LEN].to_owned()
}

const ID_LEN: usize = 26;

/// A fresh random id for an item or a field.
fn random_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Whether `id` has the shape of a 1Password id (Connect answers 400 to anything else in a path).
fn is_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[derive(Debug, Clone)]
pub(crate) struct StoredVault {
    id: String,
    name: String,
    description: String,
    granted: bool,
    /// Bumped on every item change, as Connect's `contentVersion` is.
    content_version: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Full items (as `GET …/items/{id}` answers them) by id, in creation order by id's insertion.
    items: Vec<Value>,
}

impl StoredVault {
    fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributeVersion": 1,
            "contentVersion": self.content_version,
            "items": self.items.len(),
            "type": "USER_CREATED",
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
        })
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Every vault with its items.
#[derive(Debug, Default)]
pub struct Vaults {
    vaults: Vec<StoredVault>,
    writes: Writes,
}

impl Seeded for Vaults {
    type Seed = VaultSeed;

    fn seeded(seed: &VaultSeed, now: DateTime<Utc>) -> Self {
        Vaults {
            vaults: seed
                .vaults
                .iter()
                .map(|v| StoredVault {
                    id: vault_id(&v.name),
                    name: v.name.clone(),
                    description: v.description.clone(),
                    granted: v.granted,
                    content_version: 1,
                    created_at: now,
                    updated_at: now,
                    items: Vec::new(),
                })
                .collect(),
            writes: Writes::default(),
        }
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

/// One emulated Connect server.
#[derive(Debug)]
pub struct Vault {
    /// The Connect access token clients send as `Authorization: Bearer …`.
    pub token: String,
    core: Core<Vaults>,
}

/// Connect publishes no rate limit for a self-hosted server; one generous bucket keeps the shared
/// `/__sandbox/rate-limits` knob usable for tests of a flow's retry.
const BUCKETS: &[(&str, u32)] = &[("api", 6000)];

impl Emulator for Vault {
    const KIND: &'static str = "vault";
    type Seed = VaultSeed;

    fn start(seed: &VaultSeed, config: EmulatorConfig) -> Arc<Self> {
        // Connect tokens are JWTs; nothing in a client looks inside them, so an opaque one of that look will do.
        Arc::new(Vault {
            token: config.token_or(|| random_token("eyJ", 120)),
            core: config.core(seed, config.windows(BUCKETS)),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        api::routes(this)
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route("/__sandbox/items", get(admin_items))
    }

    /// Vaults hold items, not accounts or grants: nothing to change by hand.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        Err(format!(
            "vault has no accounts or grants to change by hand (user {})",
            change.user()
        ))
    }
}

/// `GET /__sandbox/items`: every item of every vault with its field values, for tests (loopback only).
async fn admin_items(axum::extract::State(vault): axum::extract::State<Arc<Vault>>) -> Response {
    let state = vault.core.state();
    let items: Vec<Value> = state
        .vaults
        .iter()
        .flat_map(|v| {
            v.items.iter().map(|item| {
                let mut item = item.clone();
                if let Some(o) = item.as_object_mut() {
                    o.insert("vaultName".into(), v.name.clone().into());
                }
                item
            })
        })
        .collect();
    json_response(
        axum::http::StatusCode::OK,
        &serde_json::json!({ "items": items }),
    )
}
