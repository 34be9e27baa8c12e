//! The emulated service provider's resources in memory, how they are served (meta, computed `groups`,
//! `attributes`/`excludedAttributes`), listed (filter, `startIndex`/`count`) and changed.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use scim_v2::filter::{Filter, PatchPath};
use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::filter;
use super::schema::{Kind, LIST, MAX_RESULTS};
use super::seed::ScimSeed;
use crate::emulator::{Core, Seeded, Writes};
use crate::hand_change::{self, HandChange};

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub kind: Kind,
    /// Creation order, which lists follow.
    pub seq: u64,
    /// The writable attributes under their schema names.
    pub attrs: Map<String, Value>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub version: u64,
}

impl Resource {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

#[derive(Debug, Default)]
pub struct Inner {
    pub resources: BTreeMap<String, Resource>,
    pub writes: Writes,
    /// 429s answered.
    pub throttled: u64,
    next: u64,
}

/// What a list or search asks for.
#[derive(Debug, Default)]
pub struct Query {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Seeded for Inner {
    type Seed = ScimSeed;

    fn seeded(seed: &ScimSeed, now: DateTime<Utc>) -> Self {
        let mut s = Inner::default();
        let mut ids = BTreeMap::new();
        for u in &seed.users {
            let email = u.email.clone().unwrap_or_else(|| u.user_name.clone());
            let mut attrs = Map::new();
            if let Some(e) = &u.external_id {
                attrs.insert("externalId".into(), json!(e));
            }
            attrs.insert("userName".into(), json!(u.user_name));
            attrs.insert(
                "name".into(),
                json!({"formatted": format!("{} {}", u.given_name, u.family_name),
                       "familyName": u.family_name, "givenName": u.given_name}),
            );
            attrs.insert(
                "displayName".into(),
                json!(format!("{} {}", u.given_name, u.family_name)),
            );
            if let Some(t) = &u.title {
                attrs.insert("title".into(), json!(t));
            }
            attrs.insert("active".into(), json!(u.active));
            attrs.insert(
                "emails".into(),
                json!([{"value": email, "type": "work", "primary": true}]),
            );
            let id = s.insert(Kind::User, attrs, now);
            ids.insert(u.user_name.to_lowercase(), id);
        }
        for g in &seed.groups {
            let mut attrs = Map::new();
            attrs.insert("displayName".into(), json!(g.display_name));
            let members: Vec<Value> = g
                .members
                .iter()
                .filter_map(|m| ids.get(&m.to_lowercase()))
                .map(|id| json!({"value": id, "type": "User"}))
                .collect();
            if !members.is_empty() {
                attrs.insert("members".into(), Value::Array(members));
            }
            s.insert(Kind::Group, attrs, now);
        }
        s
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    fn insert(&mut self, kind: Kind, attrs: Map<String, Value>, now: DateTime<Utc>) -> String {
        self.next += 1;
        let id = uuid::Uuid::new_v4().to_string();
        self.resources.insert(
            id.clone(),
            Resource {
                id: id.clone(),
                kind,
                seq: self.next,
                attrs,
                created: now,
                modified: now,
                version: self.next,
            },
        );
        id
    }

    pub fn get(&self, kind: Kind, id: &str) -> ScimResult<&Resource> {
        self.resources
            .get(id)
            .filter(|r| r.kind == kind)
            .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.name())))
    }

    /// The resource as served, before `attributes`/`excludedAttributes`; `base` is `http://host/scim/v2`.
    pub fn render(&self, r: &Resource, base: &str) -> Value {
        let mut out = Map::new();
        out.insert("schemas".into(), json!([r.kind.urn()]));
        out.insert("id".into(), json!(r.id));
        if let Some(e) = r.attrs.get("externalId") {
            out.insert("externalId".into(), e.clone());
        }
        for def in r.kind.attrs() {
            if let Some(v) = r.attrs.get(def.name) {
                let mut v = v.clone();
                if def.name == "members" {
                    self.complete_members(&mut v, base);
                }
                out.insert(def.name.into(), v);
            }
        }
        if r.kind == Kind::User {
            let groups: Vec<Value> = self
                .sorted(Kind::Group)
                .into_iter()
                .filter(|g| members(g).any(|m| m == r.id))
                .map(|g| {
                    json!({"value": g.id, "$ref": format!("{base}/Groups/{}", g.id),
                           "display": g.attrs.get("displayName").cloned().unwrap_or(Value::Null), "type": "direct"})
                })
                .collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": r.kind.name(),
                "created": stamp(r.created),
                "lastModified": stamp(r.modified),
                "location": format!("{base}/{}/{}", r.kind.endpoint(), r.id),
                "version": r.etag(),
            }),
        );
        Value::Object(out)
    }

    /// Members written with just a `value` are served with the `$ref` and `type` of what they name.
    fn complete_members(&self, members: &mut Value, base: &str) {
        for m in members.as_array_mut().into_iter().flatten() {
            let Some(id) = m.get("value").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let Some(target) = self.resources.get(&id) else {
                continue;
            };
            if let Some(obj) = m.as_object_mut() {
                obj.entry("$ref")
                    .or_insert_with(|| json!(format!("{base}/{}/{id}", target.kind.endpoint())));
                obj.entry("type")
                    .or_insert_with(|| json!(target.kind.name()));
            }
        }
    }

    fn sorted(&self, kind: Kind) -> Vec<&Resource> {
        let mut v: Vec<&Resource> = self.resources.values().filter(|r| r.kind == kind).collect();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// One page of `kinds`' resources matching the query, as a ListResponse.
    pub fn list(&self, kinds: &[Kind], q: &Query, base: &str) -> ScimResult<Value> {
        let parsed: Option<Filter> =
            match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                None => None,
                Some(text) => Some(filter::parse_filter(text).map_err(|e| {
                    ScimError::bad("invalidFilter", format!("invalid filter {text:?}: {e}"))
                })?),
            };
        // Across several types (a root search), a filter only has to make sense for one of them.
        let mut usable = Vec::new();
        let mut problem = None;
        for &k in kinds {
            match parsed.as_ref().map(|f| filter::check(k, f)) {
                Some(Err(e)) => problem = Some(e),
                _ => usable.push(k),
            }
        }
        if usable.is_empty() {
            let detail = problem.map(|p| p.0).unwrap_or_default();
            return Err(ScimError::bad("invalidFilter", detail));
        }
        let paths = |names: &[String]| -> ScimResult<Vec<PatchPath>> {
            names
                .iter()
                .map(|n| {
                    filter::parse_path(n).map_err(|e| {
                        ScimError::bad("invalidValue", format!("invalid attribute {n:?}: {e}"))
                    })
                })
                .collect()
        };
        let attributes = paths(&q.attributes)?;
        let excluded = paths(&q.excluded)?;
        let mut all: Vec<(&Resource, Value)> = Vec::new();
        for &k in &usable {
            for r in self.sorted(k) {
                let v = self.render(r, base);
                if parsed.as_ref().is_none_or(|f| filter::matches(k, f, &v)) {
                    all.push((r, v));
                }
            }
        }
        all.sort_by_key(|(r, _)| r.seq);
        let start = q.start_index.unwrap_or(1).max(1);
        let count = q.count.unwrap_or(100).clamp(0, MAX_RESULTS as i64) as usize;
        let total = all.len();
        let page: Vec<Value> = all
            .into_iter()
            .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
            .take(count)
            .map(|(r, v)| project(r.kind, v, &attributes, &excluded))
            .collect();
        Ok(json!({
            "schemas": [LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }))
    }

    /// Checks required attributes, userName uniqueness and group members before a write is kept.
    pub fn validate(
        &self,
        kind: Kind,
        attrs: &Map<String, Value>,
        own_id: Option<&str>,
    ) -> ScimResult<()> {
        for def in kind.attrs().iter().filter(|d| d.required) {
            let missing = match attrs.get(def.name) {
                None => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            };
            if missing {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("{} is required", def.name),
                ));
            }
        }
        if kind == Kind::User
            && let Some(name) = attrs.get("userName").and_then(Value::as_str)
        {
            let taken = self.resources.values().any(|r| {
                r.kind == Kind::User
                    && Some(r.id.as_str()) != own_id
                    && r.attrs
                        .get("userName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            if taken {
                return Err(ScimError::new(
                    StatusCode::CONFLICT,
                    Some("uniqueness"),
                    format!("userName {name} is already taken"),
                ));
            }
        }
        if kind == Kind::Group {
            for m in attrs
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(id) = m.get("value").and_then(Value::as_str) else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("member {m} has no value"),
                    ));
                };
                if Some(id) == own_id || !self.resources.contains_key(id) {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("member {id} is not a User or Group here"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn create(
        &mut self,
        kind: Kind,
        attrs: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> ScimResult<String> {
        self.validate(kind, &attrs, None)?;
        let added: Vec<String> = members_of(&attrs);
        let id = self.insert(kind, attrs, now);
        self.writes
            .count(format!("{}/{id}", kind.name().to_lowercase()));
        for m in added {
            self.writes.count(format!("group/{id}/member/{m}"));
        }
        Ok(id)
    }

    /// Keeps `attrs` as the resource's new state, counting the writes it makes.
    pub fn update(
        &mut self,
        kind: Kind,
        id: &str,
        attrs: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> ScimResult<()> {
        self.validate(kind, &attrs, Some(id))?;
        self.next += 1;
        let version = self.next;
        let Some(r) = self.resources.get_mut(id) else {
            return Err(ScimError::not_found(format!(
                "{} {id} not found",
                kind.name()
            )));
        };
        let before = members_of(&r.attrs);
        let after = members_of(&attrs);
        let active_changed = r.attrs.get("active") != attrs.get("active");
        r.attrs = attrs;
        r.modified = now;
        r.version = version;
        self.writes
            .count(format!("{}/{id}", kind.name().to_lowercase()));
        if active_changed {
            self.writes.count(format!("user/{id}/active"));
        }
        for m in before
            .iter()
            .filter(|m| !after.contains(m))
            .chain(after.iter().filter(|m| !before.contains(m)))
        {
            self.writes.count(format!("group/{id}/member/{m}"));
        }
        Ok(())
    }

    /// A change made by hand in the provider's console (`crate::hand_change`): a member added to or removed from
    /// `group/<displayName>` (entitlement `member`), or a user deactivated (`active: false`). Like any change it
    /// moves the resource's version and `lastModified`; it is not an API write.
    pub fn hand_change(&mut self, change: &HandChange, now: DateTime<Utc>) -> Result<(), String> {
        let who = change.user();
        let Some(uid) = self
            .sorted(Kind::User)
            .into_iter()
            .find(|u| {
                let named = |v: Option<&Value>| {
                    v.and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(who))
                };
                named(u.attrs.get("userName"))
                    || u.attrs
                        .get("emails")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|e| named(e.get("value")))
            })
            .map(|u| u.id.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        let Some((resource, entitlement)) = change.target("member") else {
            self.touch(&uid, now, |attrs| {
                attrs.insert("active".into(), json!(false));
            });
            return Ok(());
        };
        if resource.kind != "group" {
            return Err(hand_change::unknown_kind(resource, &["group"]));
        }
        if let Some(e) = entitlement.filter(|e| *e != "member") {
            return Err(hand_change::unknown_entitlement(e, resource, &["member"]));
        }
        let Some(gid) = self
            .sorted(Kind::Group)
            .into_iter()
            .find(|g| g.attrs.get("displayName").and_then(Value::as_str) == Some(&resource.name))
            .map(|g| g.id.clone())
        else {
            return Err(format!("unknown group {}", resource.name));
        };
        let held = self
            .resources
            .get(&gid)
            .is_some_and(|g| members(g).any(|m| m == uid));
        match (entitlement.is_some(), held) {
            (true, false) => self.touch(&gid, now, |attrs| {
                let member = json!({"value": uid, "type": "User"});
                match attrs.get_mut("members") {
                    Some(Value::Array(ms)) => ms.push(member),
                    _ => {
                        attrs.insert("members".into(), json!([member]));
                    }
                }
            }),
            (false, true) => self.touch(&gid, now, |attrs| {
                if let Some(Value::Array(ms)) = attrs.get_mut("members") {
                    ms.retain(|m| m.get("value").and_then(Value::as_str) != Some(uid.as_str()));
                    if ms.is_empty() {
                        attrs.remove("members");
                    }
                }
            }),
            _ => {}
        }
        Ok(())
    }

    /// Changes a resource's attributes outside the API: a new version, no write counted.
    fn touch(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        change: impl FnOnce(&mut Map<String, Value>),
    ) {
        self.next += 1;
        let version = self.next;
        if let Some(r) = self.resources.get_mut(id) {
            change(&mut r.attrs);
            r.modified = now;
            r.version = version;
        }
    }

    pub fn delete(&mut self, kind: Kind, id: &str, now: DateTime<Utc>) -> ScimResult<()> {
        self.get(kind, id)?;
        self.resources.remove(id);
        self.writes
            .count(format!("{}/{id}", kind.name().to_lowercase()));
        // A deleted user or group stops being anyone's member.
        let holders: Vec<String> = self
            .resources
            .values()
            .filter(|g| members(g).any(|m| m == id))
            .map(|g| g.id.clone())
            .collect();
        for gid in holders {
            self.next += 1;
            let version = self.next;
            if let Some(g) = self.resources.get_mut(&gid) {
                if let Some(Value::Array(ms)) = g.attrs.get_mut("members") {
                    ms.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    if ms.is_empty() {
                        g.attrs.remove("members");
                    }
                }
                g.modified = now;
                g.version = version;
            }
        }
        Ok(())
    }
}

fn members(r: &Resource) -> impl Iterator<Item = &str> {
    r.attrs
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str))
}

fn members_of(attrs: &Map<String, Value>) -> Vec<String> {
    attrs
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); `id` and `schemas` are always returned.
pub fn project(kind: Kind, v: Value, attributes: &[PatchPath], excluded: &[PatchPath]) -> Value {
    let Value::Object(obj) = v else { return v };
    let named = |p: &PatchPath| -> Option<(String, Option<String>)> {
        let PatchPath::Attr(a) = p else { return None };
        if a.uri
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(kind.urn()))
        {
            return None;
        }
        let def = kind.attr(&a.name)?;
        let sub = a
            .sub_attr
            .as_deref()
            .and_then(|s| def.sub_attr(s))
            .map(|s| s.name.to_owned());
        Some((def.name.to_owned(), sub))
    };
    let always = |k: &str| k == "id" || k == "schemas";
    let pick_sub = |v: &Value, subs: &[String]| -> Value {
        let keep = |el: &Value| match el {
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(k, _)| subs.iter().any(|s| s == *k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        match v {
            Value::Array(items) => Value::Array(items.iter().map(keep).collect()),
            other => keep(other),
        }
    };
    if !attributes.is_empty() {
        let wanted: Vec<(String, Option<String>)> = attributes.iter().filter_map(named).collect();
        let mut out = Map::new();
        for (k, v) in obj {
            if always(&k) {
                out.insert(k, v);
                continue;
            }
            let hits: Vec<&(String, Option<String>)> =
                wanted.iter().filter(|(n, _)| *n == k).collect();
            if hits.is_empty() {
                continue;
            }
            if hits.iter().any(|(_, s)| s.is_none()) {
                out.insert(k, v);
            } else {
                let subs: Vec<String> = hits.iter().filter_map(|(_, s)| s.clone()).collect();
                out.insert(k, pick_sub(&v, &subs));
            }
        }
        return Value::Object(out);
    }
    let unwanted: Vec<(String, Option<String>)> = excluded.iter().filter_map(named).collect();
    let mut out = Map::new();
    for (k, mut v) in obj {
        if !always(&k) {
            if unwanted.iter().any(|(n, s)| *n == k && s.is_none()) {
                continue;
            }
            for (_, s) in unwanted.iter().filter(|(n, _)| *n == k) {
                if let Some(s) = s {
                    match &mut v {
                        Value::Array(items) => items
                            .iter_mut()
                            .filter_map(Value::as_object_mut)
                            .for_each(|o| {
                                o.remove(s);
                            }),
                        Value::Object(o) => {
                            o.remove(s);
                        }
                        _ => {}
                    }
                }
            }
        }
        out.insert(k, v);
    }
    Value::Object(out)
}

/// One SCIM service provider: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Scim {
    pub(crate) core: Core<Inner>,
    pub token: String,
}

/// One bucket for the whole API: SCIM defines no rate limits, so this is the provider's own (RFC 6585 429).
pub const BUCKETS: &[(&str, u32)] = &[("api", 3000)];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::Seeded;
    use crate::scim::seed::{ScimSeedGroup, ScimSeedUser};

    fn seeded() -> Inner {
        let user = |n: &str| ScimSeedUser {
            user_name: n.into(),
            email: None,
            given_name: "A".into(),
            family_name: "B".into(),
            title: None,
            external_id: None,
            active: true,
        };
        Inner::seeded(
            &ScimSeed {
                users: (1..=5)
                    .map(|i| user(&format!("u{i}@example.com")))
                    .collect(),
                groups: vec![ScimSeedGroup {
                    display_name: "eng".into(),
                    members: vec!["u1@example.com".into()],
                }],
            },
            Utc::now(),
        )
    }

    #[test]
    fn pages_follow_start_index_and_count_and_filters_narrow_the_total() {
        let s = seeded();
        let q = Query {
            start_index: Some(4),
            count: Some(2),
            attributes: vec!["userName".into()],
            ..Query::default()
        };
        let page = s.list(&[Kind::User], &q, "http://x/scim/v2").expect("list");
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(page["Resources"][0]["userName"], "u4@example.com");
        assert!(page["Resources"][0].get("emails").is_none());
        assert!(page["Resources"][0].get("id").is_some());
        let q = Query {
            filter: Some(r#"groups.display eq "ENG""#.into()),
            ..Query::default()
        };
        let page = s.list(&[Kind::User], &q, "http://x/scim/v2").expect("list");
        assert_eq!(page["totalResults"], 1);
        let bad = Query {
            filter: Some("userName eq".into()),
            ..Query::default()
        };
        let err = s
            .list(&[Kind::User], &bad, "http://x")
            .expect_err("invalid");
        assert_eq!(err.scim_type, Some("invalidFilter"));
    }
}
