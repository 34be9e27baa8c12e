//! The emulated company's employees, their change history (what the change feed reads) and its webhooks.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::BamboohrSeed;
use crate::emulator::{Seeded, Writes, random_token};

/// OpenAPI alias → the classic field it stands for.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("jobTitleName", "jobTitle"),
    ("reportsToId", "supervisorEId"),
    ("reportsToName", "supervisor"),
];

/// The fields an employee has (an unknown name in `fields=` is left out of the answer).
pub(super) const KNOWN_FIELDS: &[&str] = &[
    "employeeNumber",
    "firstName",
    "lastName",
    "preferredName",
    "displayName",
    "workEmail",
    "workPhone",
    "status",
    "employmentStatus",
    "hireDate",
    "terminationDate",
    "department",
    "division",
    "jobTitle",
    "location",
    "supervisorEId",
    "supervisorId",
    "supervisor",
    "jobTitleName",
    "reportsToId",
    "reportsToName",
];

/// One webhook as its administrator created it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub private_key: String,
    pub monitor_fields: Vec<String>,
    /// Field-based payloads post these fields (name → alias); empty means an event-based payload.
    pub post_fields: Map<String, Value>,
    pub format: String,
    pub created: DateTime<Utc>,
    pub last_sent: Option<DateTime<Utc>>,
}

impl Webhook {
    /// As the API shows it: never the private key.
    pub fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "url": self.url,
            "monitorFields": self.monitor_fields,
            "postFields": self.post_fields,
            "format": self.format,
            "created": bamboo_time(self.created),
            "lastSent": self.last_sent.map(bamboo_time),
        })
    }
}

/// BambooHR's timestamps: `2011-03-21T15:03:20+00:00`.
pub fn bamboo_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// The signature of a delivery: lower-case hex HMAC-SHA256 of `body` followed by `timestamp`.
pub fn sign(private_key: &str, body: &[u8], timestamp: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, private_key.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(body);
    ctx.update(timestamp.as_bytes());
    hex::encode(ctx.sign().as_ref())
}

/// Employees, what changed when, and webhooks.
#[derive(Debug, Default)]
pub struct Employees {
    /// By numeric id; fields by their classic names (`id` as text).
    pub employees: BTreeMap<u64, Map<String, Value>>,
    /// When each employee was created and last changed.
    pub created: BTreeMap<u64, DateTime<Utc>>,
    pub changed: BTreeMap<u64, DateTime<Utc>>,
    /// Employees deleted, and when.
    pub deleted: BTreeMap<u64, DateTime<Utc>>,
    pub webhooks: BTreeMap<u64, Webhook>,
    next_webhook: u64,
    pub writes: Writes,
}

fn id_number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Seeded for Employees {
    type Seed = BamboohrSeed;

    fn seeded(seed: &BamboohrSeed, now: DateTime<Utc>) -> Self {
        let mut state = Employees {
            next_webhook: 1,
            ..Default::default()
        };
        for (at, employee) in seed.employees.iter().enumerate() {
            let id = id_number(employee.get("id")).unwrap_or(at as u64 + 1);
            let mut employee = employee.clone();
            employee.insert("id".into(), Value::String(id.to_string()));
            employee
                .entry("status")
                .or_insert_with(|| Value::String("Active".into()));
            state.employees.insert(id, employee);
            state.created.insert(id, now);
            state.changed.insert(id, now);
        }
        state
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Employees {
    /// The webhook the sandbox starts with (id 1, no URL yet), keyed with `private_key`.
    pub fn start_webhook(&mut self, private_key: &str, now: DateTime<Utc>) {
        self.webhooks.clear();
        self.next_webhook = 1;
        self.add_webhook(
            "grantflow".into(),
            String::new(),
            Vec::new(),
            Map::new(),
            "json".into(),
            Some(private_key.to_string()),
            now,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_webhook(
        &mut self,
        name: String,
        url: String,
        monitor_fields: Vec<String>,
        post_fields: Map<String, Value>,
        format: String,
        private_key: Option<String>,
        now: DateTime<Utc>,
    ) -> &Webhook {
        let id = self.next_webhook;
        self.next_webhook += 1;
        self.webhooks.entry(id).or_insert(Webhook {
            id,
            name,
            url,
            private_key: private_key.unwrap_or_else(|| random_token("", 32)),
            monitor_fields,
            post_fields,
            format,
            created: now,
            last_sent: None,
        })
    }

    /// A field of an employee by its classic name or OpenAPI alias; `supervisor` and `displayName` are
    /// derived as BambooHR shows them (`Last, First` and `First Last`).
    pub fn field(&self, employee: &Map<String, Value>, name: &str) -> Value {
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, classic)| classic);
        let text = |key: &str| {
            employee
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match name {
            "supervisor" => {
                let Some(manager) =
                    id_number(employee.get("supervisorEId")).and_then(|id| self.employees.get(&id))
                else {
                    return Value::Null;
                };
                let (first, last) = (
                    manager
                        .get("firstName")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    manager
                        .get("lastName")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                );
                Value::String(format!("{last}, {first}"))
            }
            "supervisorId" => id_number(employee.get("supervisorEId"))
                .and_then(|id| self.employees.get(&id))
                .and_then(|m| m.get("employeeNumber").cloned())
                .unwrap_or(Value::Null),
            "displayName" if !employee.contains_key("displayName") => {
                let first = match text("preferredName") {
                    p if p.is_empty() => text("firstName"),
                    p => p,
                };
                Value::String(format!("{first} {}", text("lastName")).trim().to_string())
            }
            "terminationDate" => employee
                .get(name)
                .cloned()
                .unwrap_or_else(|| Value::String("0000-00-00".into())),
            _ => employee.get(name).cloned().unwrap_or(Value::Null),
        }
    }

    /// Adds (no `id`, or an unknown one) or changes an employee: the fields given replace theirs (`null`
    /// removes one). Returns the id, whether it is new, and the fields whose value changed.
    pub fn upsert(
        &mut self,
        mut fields: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(u64, bool, Vec<String>), String> {
        let id = match fields.remove("id") {
            None | Some(Value::Null) => self.employees.keys().max().map_or(1, |m| m + 1),
            Some(v) => id_number(Some(&v)).ok_or_else(|| format!("id {v} is not a number"))?,
        };
        for (alias, classic) in ALIASES {
            if let Some(v) = fields.remove(*alias) {
                fields.insert((*classic).to_string(), v);
            }
        }
        if let Some(unknown) = fields.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(format!("unknown field {unknown}"));
        }
        let created = !self.employees.contains_key(&id);
        let employee = self.employees.entry(id).or_insert_with(|| {
            Map::from_iter([
                ("id".to_string(), Value::String(id.to_string())),
                ("status".to_string(), Value::String("Active".into())),
            ])
        });
        let mut changed = Vec::new();
        for (key, value) in fields {
            let before = employee.get(&key).cloned().unwrap_or(Value::Null);
            if before != value {
                changed.push(key.clone());
            }
            if value.is_null() {
                employee.remove(&key);
            } else {
                employee.insert(key, value);
            }
        }
        if created {
            self.created.insert(id, now);
        }
        self.deleted.remove(&id);
        if created || !changed.is_empty() {
            self.changed.insert(id, now);
        }
        self.writes.count(format!("employee {id}"));
        Ok((id, created, changed))
    }

    /// The change feed since `since`: `Inserted` for employees created since, `Updated` for others
    /// changed since, `Deleted` for those deleted since.
    pub fn changes_since(&self, since: DateTime<Utc>, kind: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for (id, at) in &self.changed {
            if *at < since {
                continue;
            }
            let action = if self.created.get(id).is_some_and(|c| *c >= since) {
                "Inserted"
            } else {
                "Updated"
            };
            if kind == "all" || kind.eq_ignore_ascii_case(action) {
                out.insert(
                    id.to_string(),
                    json!({"id": id.to_string(), "action": action, "lastChanged": bamboo_time(*at)}),
                );
            }
        }
        for (id, at) in &self.deleted {
            if *at >= since && (kind == "all" || kind == "deleted") {
                out.insert(
                    id.to_string(),
                    json!({"id": id.to_string(), "action": "Deleted", "lastChanged": bamboo_time(*at)}),
                );
            }
        }
        out
    }
}
