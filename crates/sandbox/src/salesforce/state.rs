//! The emulated Salesforce org in memory: records of User (with its UserLogin), Profile, PermissionSet and
//! PermissionSetAssignment,
//! their schema (fields, required fields, relationships), SOQL evaluation and query cursors.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::seed::SalesforceSeed;
use super::soql::{Condition, Literal, Query};
use crate::emulator::{Core, Seeded, Writes};
use crate::hand_change::{self, HandChange};

/// One sObject type: key prefix, fields (canonical names), fields required on create, lookups.
pub struct Schema {
    pub name: &'static str,
    pub prefix: &'static str,
    pub fields: &'static [&'static str],
    pub required: &'static [&'static str],
    /// Relationship name → (id field, target type).
    pub lookups: &'static [(&'static str, &'static str, &'static str)],
    pub deletable: bool,
}

pub const SCHEMAS: &[Schema] = &[
    Schema {
        name: "User",
        prefix: "005",
        fields: &[
            "Id",
            "Username",
            "Email",
            "FirstName",
            "LastName",
            "Name",
            "Alias",
            "ProfileId",
            "IsActive",
            "FederationIdentifier",
            "TimeZoneSidKey",
            "LocaleSidKey",
            "EmailEncodingKey",
            "LanguageLocaleKey",
            "UserType",
            "Title",
            "Department",
        ],
        required: &[
            "Username",
            "LastName",
            "Email",
            "Alias",
            "TimeZoneSidKey",
            "LocaleSidKey",
            "EmailEncodingKey",
            "ProfileId",
            "LanguageLocaleKey",
        ],
        lookups: &[("Profile", "ProfileId", "Profile")],
        deletable: false,
    },
    // One per User, made with it: the settings of its sign-in. Salesforce supports query, retrieve and update
    // (`IsFrozen` freezes the user), never create or delete.
    Schema {
        name: "UserLogin",
        prefix: "060",
        fields: &["Id", "UserId", "IsFrozen", "IsPasswordLocked"],
        required: &[],
        lookups: &[("User", "UserId", "User")],
        deletable: false,
    },
    Schema {
        name: "Profile",
        prefix: "00e",
        fields: &["Id", "Name", "UserLicenseId", "UserType"],
        required: &["Name"],
        lookups: &[],
        deletable: true,
    },
    Schema {
        name: "PermissionSet",
        prefix: "0PS",
        fields: &[
            "Id",
            "Name",
            "Label",
            "Description",
            "IsOwnedByProfile",
            "ProfileId",
            "PermissionSetGroupId",
            "Type",
        ],
        required: &["Name", "Label"],
        lookups: &[("Profile", "ProfileId", "Profile")],
        deletable: true,
    },
    Schema {
        name: "PermissionSetAssignment",
        prefix: "0Pa",
        fields: &[
            "Id",
            "AssigneeId",
            "PermissionSetId",
            "PermissionSetGroupId",
            "ExpirationDate",
            "IsActive",
        ],
        required: &["AssigneeId"],
        lookups: &[
            ("Assignee", "AssigneeId", "User"),
            ("PermissionSet", "PermissionSetId", "PermissionSet"),
        ],
        deletable: true,
    },
    // Business records: flows are started by their creation (polled by `CreatedDate`).
    Schema {
        name: "Account",
        prefix: "001",
        fields: &[
            "Id",
            "Name",
            "Type",
            "Industry",
            "CreatedDate",
            "CreatedById",
            "SystemModstamp",
        ],
        required: &["Name"],
        lookups: &[("CreatedBy", "CreatedById", "User")],
        deletable: true,
    },
    Schema {
        name: "Opportunity",
        prefix: "006",
        fields: &[
            "Id",
            "Name",
            "StageName",
            "CloseDate",
            "Amount",
            "AccountId",
            "CreatedDate",
            "CreatedById",
            "SystemModstamp",
        ],
        required: &["Name", "StageName", "CloseDate"],
        lookups: &[
            ("Account", "AccountId", "Account"),
            ("CreatedBy", "CreatedById", "User"),
        ],
        deletable: true,
    },
];

/// The fields Salesforce sets itself on every record it creates (never the caller).
pub const AUDIT_FIELDS: &[&str] = &["CreatedDate", "CreatedById", "SystemModstamp"];

/// A datetime as Salesforce writes it: `2026-12-05T09:30:00.000+0000`.
pub fn sf_datetime(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// A datetime field's value or a SOQL datetime literal (`2026-12-05T09:30:00Z`, `…+01:00`).
fn parse_datetime(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

pub fn schema(name: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&'static str> {
        self.fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .copied()
    }
}

/// A Salesforce error: status and the `[{message, errorCode, fields}]` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SfError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl SfError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }
    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "The requested resource does not exist")
    }
    pub fn malformed(message: String) -> Self {
        Self::new(400, "MALFORMED_QUERY", message)
    }
}

#[derive(Debug, Default)]
pub struct Inner {
    /// Type → id → record (canonical field names, without `attributes`).
    pub records: BTreeMap<&'static str, BTreeMap<String, Map<String, Value>>>,
    /// Query locator → the whole result, for `nextRecordsUrl`.
    pub cursors: BTreeMap<String, Vec<Value>>,
    pub writes: Writes,
    /// REQUEST_LIMIT_EXCEEDED answers.
    pub refused: u64,
    next_id: u64,
}

/// Id characters in Salesforce's base-62 style, kept in creation order by a zero-padded counter.
fn record_id(prefix: &str, n: u64) -> String {
    format!("{prefix}8d0000{n:06}AAA")
}

impl Seeded for Inner {
    type Seed = SalesforceSeed;

    fn seeded(seed: &SalesforceSeed, _now: chrono::DateTime<chrono::Utc>) -> Self {
        let mut s = Inner::default();
        let mut profiles = BTreeMap::new();
        for name in &seed.profiles {
            let id = s.insert(
                "Profile",
                json!({"Name": name, "UserLicenseId": "100000000000AAA", "UserType": "Standard"}),
            );
            // Every profile owns a hidden permission set holding its permissions.
            s.insert(
                "PermissionSet",
                json!({
                    "Name": format!("X{}", id.to_ascii_uppercase()),
                    "Label": format!("{name} (profile)"),
                    "IsOwnedByProfile": true,
                    "ProfileId": id,
                    "Type": "Profile",
                }),
            );
            profiles.insert(name.clone(), id);
        }
        let mut sets = BTreeMap::new();
        for p in &seed.permission_sets {
            let id = s.insert(
                "PermissionSet",
                json!({
                    "Name": p.name,
                    "Label": p.label.clone().unwrap_or_else(|| p.name.replace('_', " ")),
                    "IsOwnedByProfile": false,
                    "Type": "Regular",
                }),
            );
            sets.insert(p.name.clone(), id);
        }
        for u in &seed.users {
            let profile = profiles.get(&u.profile).cloned().unwrap_or_default();
            let name = crate::emulator::name_from_email(&u.email);
            let (first, last) = name.split_once(' ').unwrap_or(("", name.as_str()));
            let alias: String = crate::emulator::local_part(&u.email)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            let user = s.insert(
                "User",
                json!({
                    "Username": u.username.clone().unwrap_or_else(|| u.email.clone()),
                    "Email": u.email,
                    "FirstName": first,
                    "LastName": last,
                    "Name": name,
                    "Alias": alias,
                    "ProfileId": profile,
                    "IsActive": !u.inactive,
                    "FederationIdentifier": u.email,
                    "TimeZoneSidKey": "Europe/Berlin",
                    "LocaleSidKey": "en_US",
                    "EmailEncodingKey": "UTF-8",
                    "LanguageLocaleKey": "en_US",
                    "UserType": "Standard",
                }),
            );
            s.insert_user_login(&user);
            // The profile's own permission set is assigned too, as Salesforce shows it.
            let owned = s.profile_permission_set(&profile);
            for set in owned.into_iter().chain(
                u.permission_sets
                    .iter()
                    .filter_map(|p| sets.get(p).cloned()),
            ) {
                s.insert(
                    "PermissionSetAssignment",
                    json!({"AssigneeId": user, "PermissionSetId": set, "IsActive": true}),
                );
            }
        }
        s
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    fn profile_permission_set(&self, profile: &str) -> Option<String> {
        self.records
            .get("PermissionSet")?
            .iter()
            .find_map(|(id, r)| {
                (r.get("ProfileId").and_then(Value::as_str) == Some(profile)
                    && r.get("IsOwnedByProfile") == Some(&Value::Bool(true)))
                .then(|| id.clone())
            })
    }

    /// The UserLogin Salesforce keeps for every user: not frozen, not locked.
    pub fn insert_user_login(&mut self, user: &str) -> String {
        self.insert(
            "UserLogin",
            json!({"UserId": user, "IsFrozen": false, "IsPasswordLocked": false}),
        )
    }

    /// Stores a record with every schema field present (null when not given); returns its new id.
    pub fn insert(&mut self, object: &'static str, fields: Value) -> String {
        self.next_id += 1;
        let prefix = schema(object).map_or("000", |s| s.prefix);
        let id = record_id(prefix, self.next_id);
        let mut record = Map::new();
        for f in schema(object).map_or(&[][..], |s| s.fields) {
            record.insert((*f).to_owned(), Value::Null);
        }
        if let Value::Object(given) = fields {
            record.extend(given);
        }
        record.insert("Id".into(), Value::String(id.clone()));
        self.records
            .entry(object)
            .or_default()
            .insert(id.clone(), record);
        id
    }

    /// A change made by hand in Setup (`crate::hand_change`): a PermissionSetAssignment of
    /// `permission_set/<Name>` (entitlement `assigned`) created or deleted, or the User deactivated
    /// (`IsActive = false`; its assignments stay, as in Salesforce). Users are found by `Username`, then `Email`.
    /// Not API writes.
    pub fn hand_change(&mut self, change: &HandChange) -> Result<(), String> {
        let who = change.user();
        let field_is = |r: &Map<String, Value>, field: &str, want: &str| {
            r.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(want))
        };
        let users = || self.records.get("User").into_iter().flatten();
        let Some(user) = users()
            .find(|(_, r)| field_is(r, "Username", who))
            .or_else(|| users().find(|(_, r)| field_is(r, "Email", who)))
            .map(|(id, _)| id.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        let Some((resource, entitlement)) = change.target("assigned") else {
            if let Some(r) = self.records.get_mut("User").and_then(|t| t.get_mut(&user)) {
                r.insert("IsActive".into(), Value::Bool(false));
            }
            return Ok(());
        };
        if resource.kind != "permission_set" {
            return Err(hand_change::unknown_kind(resource, &["permission_set"]));
        }
        if let Some(e) = entitlement.filter(|e| *e != "assigned") {
            return Err(hand_change::unknown_entitlement(e, resource, &["assigned"]));
        }
        let Some((set, owned)) = self
            .records
            .get("PermissionSet")
            .into_iter()
            .flatten()
            .find(|(_, r)| field_is(r, "Name", &resource.name))
            .map(|(id, r)| {
                (
                    id.clone(),
                    r.get("IsOwnedByProfile") == Some(&Value::Bool(true)),
                )
            })
        else {
            return Err(format!("unknown permission set {}", resource.name));
        };
        if owned {
            // The connector does not read these: they change only with their profile.
            return Err(format!(
                "permission set {} is owned by a profile; change the user's profile instead",
                resource.name
            ));
        }
        let assigned: Vec<String> = self
            .records
            .get("PermissionSetAssignment")
            .into_iter()
            .flatten()
            .filter(|(_, r)| {
                field_is(r, "AssigneeId", &user) && field_is(r, "PermissionSetId", &set)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if entitlement.is_some() {
            if assigned.is_empty() {
                self.insert(
                    "PermissionSetAssignment",
                    json!({"AssigneeId": user, "PermissionSetId": set, "IsActive": true}),
                );
            }
        } else if let Some(table) = self.records.get_mut("PermissionSetAssignment") {
            for id in assigned {
                table.remove(&id);
            }
        }
        Ok(())
    }

    pub fn find(&self, id: &str) -> Option<(&'static str, &Map<String, Value>)> {
        let schema = SCHEMAS.iter().find(|s| id.starts_with(s.prefix))?;
        Some((schema.name, self.records.get(schema.name)?.get(id)?))
    }

    /// A field path (`Name`, `PermissionSet.Name`) on a record; `Err` names a column the schema lacks.
    fn resolve(
        &self,
        schema: &Schema,
        record: &Map<String, Value>,
        path: &str,
    ) -> Result<Value, SfError> {
        let invalid = || {
            SfError::new(
                400,
                "INVALID_FIELD",
                format!(
                    "No such column '{path}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    schema.name
                ),
            )
        };
        match path.split_once('.') {
            None => {
                let field = schema.field(path).ok_or_else(invalid)?;
                Ok(record.get(field).cloned().unwrap_or(Value::Null))
            }
            Some((relationship, rest)) => {
                let (_, id_field, target) = schema
                    .lookups
                    .iter()
                    .find(|(r, _, _)| r.eq_ignore_ascii_case(relationship))
                    .ok_or_else(invalid)?;
                let target_schema = super::state::schema(target).ok_or_else(invalid)?;
                if rest.contains('.') || target_schema.field(rest).is_none() {
                    return Err(invalid());
                }
                let Some(id) = record.get(*id_field).and_then(Value::as_str) else {
                    return Ok(Value::Null);
                };
                match self.find(id) {
                    Some((_, related)) => self.resolve(target_schema, related, rest),
                    None => Ok(Value::Null),
                }
            }
        }
    }

    fn matches(
        &self,
        schema: &Schema,
        record: &Map<String, Value>,
        c: &Condition,
    ) -> Result<bool, SfError> {
        let equal = |value: &Value, lit: &Literal| match (value, lit) {
            (Value::Null, Literal::Null) => true,
            (Value::String(s), Literal::Text(t)) => {
                // Ids compare on their first 15 characters; text fields case-insensitively.
                s.eq_ignore_ascii_case(t)
                    || (s.len() == 18 && t.len() == 15 && s.starts_with(t.as_str()))
            }
            (Value::Bool(b), Literal::Bool(l)) => b == l,
            (Value::Number(n), Literal::Number(l)) => n.as_f64() == Some(*l),
            _ => false,
        };
        Ok(match c {
            Condition::Compare(f, op, lit) => {
                let value = self.resolve(schema, record, f)?;
                let ordering = match (&value, lit) {
                    (Value::String(s), Literal::Text(t)) => {
                        match (parse_datetime(s), parse_datetime(t)) {
                            (Some(a), Some(b)) => Some(a.cmp(&b)),
                            _ => Some(s.as_str().cmp(t.as_str())),
                        }
                    }
                    (Value::Number(n), Literal::Number(l)) => {
                        n.as_f64().and_then(|n| n.partial_cmp(l))
                    }
                    _ => None,
                };
                ordering.is_some_and(|o| op.holds(o))
            }
            Condition::Equals(f, lit) => equal(&self.resolve(schema, record, f)?, lit),
            Condition::NotEquals(f, lit) => !equal(&self.resolve(schema, record, f)?, lit),
            Condition::In(f, lits) => {
                let v = self.resolve(schema, record, f)?;
                lits.iter().any(|l| equal(&v, l))
            }
        })
    }

    /// A record as the API shows it: `attributes` first, then the selected fields (relationship fields nested).
    pub fn shape(
        &self,
        schema: &Schema,
        record: &Map<String, Value>,
        fields: &[String],
        version: &str,
    ) -> Result<Value, SfError> {
        let id = record.get("Id").and_then(Value::as_str).unwrap_or("");
        let mut out = Map::new();
        out.insert(
            "attributes".into(),
            json!({"type": schema.name, "url": format!("/services/data/v{version}/sobjects/{}/{id}", schema.name)}),
        );
        for f in fields {
            match f.split_once('.') {
                None => {
                    let name = schema.field(f).unwrap_or(f.as_str());
                    out.insert(name.to_owned(), self.resolve(schema, record, f)?);
                }
                Some((relationship, rest)) => {
                    let value = self.resolve(schema, record, f)?;
                    let Some((rel, id_field, target)) = schema
                        .lookups
                        .iter()
                        .find(|(r, _, _)| r.eq_ignore_ascii_case(relationship))
                    else {
                        continue;
                    };
                    let Some(related) = record
                        .get(*id_field)
                        .and_then(Value::as_str)
                        .filter(|_| record.get(*id_field).is_some_and(|v| !v.is_null()))
                    else {
                        out.insert((*rel).to_owned(), Value::Null);
                        continue;
                    };
                    let target_schema = super::state::schema(target);
                    let field_name = target_schema
                        .and_then(|t| t.field(rest))
                        .unwrap_or(rest)
                        .to_owned();
                    let entry = out.entry((*rel).to_owned()).or_insert_with(|| {
                        json!({"attributes": {"type": target, "url": format!("/services/data/v{version}/sobjects/{target}/{related}")}})
                    });
                    if let Value::Object(map) = entry {
                        map.insert(field_name, value);
                    }
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// Runs a parsed query: the matching records, shaped.
    pub fn run(&self, q: &Query, version: &str) -> Result<Vec<Value>, SfError> {
        let schema = schema(&q.object).ok_or_else(|| {
            SfError::new(
                400,
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.object),
            )
        })?;
        let empty = BTreeMap::new();
        let table = self.records.get(schema.name).unwrap_or(&empty);
        let mut rows = Vec::new();
        for record in table.values() {
            let mut keep = true;
            for c in &q.conditions {
                if !self.matches(schema, record, c)? {
                    keep = false;
                    break;
                }
            }
            if keep {
                rows.push(record);
            }
        }
        if let Some((field, ascending)) = &q.order_by {
            let mut keyed = Vec::new();
            for r in rows {
                keyed.push((self.resolve(schema, r, field)?.to_string(), r));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            if !ascending {
                keyed.reverse();
            }
            rows = keyed.into_iter().map(|(_, r)| r).collect();
        }
        if let Some(limit) = q.limit {
            rows.truncate(limit);
        }
        rows.into_iter()
            .map(|r| self.shape(schema, r, &q.fields, version))
            .collect()
    }
}

/// One Salesforce org: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Salesforce {
    pub(crate) core: Core<Inner>,
    pub token: String,
    /// The connected app's key and the sessions its JWT bearer grants opened; `None` if no key could be made.
    pub(crate) issuer: Option<crate::emulator::tokens::TokenIssuer>,
}

/// The org's one request budget (`DailyApiRequests`, 15,000 for a new Enterprise org); tests lower it.
pub const BUCKETS: &[(&str, u32)] = &[("api", 15_000)];
