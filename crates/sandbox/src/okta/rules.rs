//! Group rules: `/api/v1/groups/rules` (list, create INACTIVE, get, replace, delete 202, activate/deactivate
//! 204), evaluated with the OEL subset on activation and whenever a user is created or updated. Memberships a
//! rule makes are remembered, so a user who stops matching leaves only the groups the rule put them in.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::{Ctx, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::ids::ts;
use super::oel::{self, Subject};
use super::pagination::{list_response, page};
use super::state::{Inner, Okta, UserStatus};

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub expression: String,
    pub parsed: oel::Expr,
    pub group_ids: Vec<String>,
    pub exclude_users: Vec<String>,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

impl Rule {
    fn to_json(&self) -> Value {
        json!({
            "type": "group_rule",
            "id": self.id,
            "name": self.name,
            "status": if self.active { "ACTIVE" } else { "INACTIVE" },
            "created": ts(self.created),
            "lastUpdated": ts(self.last_updated),
            "allGroupsValid": true,
            "conditions": {
                "people": {"users": {"exclude": self.exclude_users}, "groups": {"exclude": []}},
                "expression": {"value": self.expression, "type": "urn:okta:expression:1.0"},
            },
            "actions": {"assignUserToGroups": {"groupIds": self.group_ids}},
        })
    }
}

#[derive(Debug, Deserialize)]
struct Body {
    name: String,
    conditions: Conditions,
    actions: Actions,
}

#[derive(Debug, Deserialize)]
struct Conditions {
    expression: Expression,
    #[serde(default)]
    people: Option<People>,
}

#[derive(Debug, Deserialize)]
struct Expression {
    value: String,
}

#[derive(Debug, Deserialize)]
struct People {
    #[serde(default)]
    users: Option<Exclude>,
}

#[derive(Debug, Deserialize)]
struct Exclude {
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Actions {
    assign_user_to_groups: GroupIds,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupIds {
    group_ids: Vec<String>,
}

fn validated(inner: &Inner, body: &Bytes) -> OktaResult<(Body, oel::Expr)> {
    let b: Body = parse_body(body, "groupRule")?;
    if b.name.trim().is_empty() || b.name.chars().count() > 50 {
        return Err(OktaError::validation(
            "name",
            vec!["name: must be 1 to 50 characters".into()],
        ));
    }
    let parsed = oel::parse(&b.conditions.expression.value).map_err(|e| {
        OktaError::validation(
            "conditions.expression.value",
            vec![format!("Invalid expression: {e}")],
        )
    })?;
    if b.actions.assign_user_to_groups.group_ids.is_empty() {
        return Err(OktaError::validation(
            "actions.assignUserToGroups.groupIds",
            vec!["groupIds: at least one group is required".into()],
        ));
    }
    if let Some(g) = b.actions.assign_user_to_groups.group_ids.iter().find(|g| {
        inner
            .groups
            .get(*g)
            .is_none_or(|g| g.kind != super::state::GroupType::OktaGroup)
    }) {
        return Err(OktaError::validation(
            "actions.assignUserToGroups.groupIds",
            vec![format!("groupIds: {g} is not an Okta group")],
        ));
    }
    Ok((b, parsed))
}

impl Inner {
    /// Brings one user's rule-made memberships in line with every active rule.
    pub fn apply_rules(&mut self, ctx: &Ctx, uid: &str) {
        let rules: Vec<Rule> = self.rules.values().filter(|r| r.active).cloned().collect();
        for rule in rules {
            let matches = self.users.get(uid).is_some_and(|u| {
                u.status != UserStatus::Deprovisioned
                    && !rule.exclude_users.iter().any(|x| x == uid)
                    && oel::eval(
                        &rule.parsed,
                        &Subject {
                            profile: &u.profile,
                            id: &u.id,
                            status: u.status.as_str(),
                        },
                    )
            });
            for gid in &rule.group_ids {
                let key = (gid.clone(), uid.to_string());
                let member = self
                    .groups
                    .get(gid)
                    .is_some_and(|g| g.members.contains(uid));
                let by_rule = self.rule_members.get(&key) == Some(&rule.id);
                let change = if matches && !member {
                    self.rule_members.insert(key, rule.id.clone());
                    Some(true)
                } else if !matches && member && by_rule {
                    self.rule_members.remove(&key);
                    Some(false)
                } else {
                    None
                };
                if let Some(add) = change {
                    self.set_membership(ctx, gid, uid, add);
                }
            }
        }
    }

    fn set_membership(&mut self, ctx: &Ctx, gid: &str, uid: &str, add: bool) {
        let before = self.user_apps(uid);
        if let Some(g) = self.groups.get_mut(gid) {
            if add {
                g.members.insert(uid.to_string());
            } else {
                g.members.remove(uid);
            }
            g.last_membership_updated = ctx.now;
        }
        let (event, message) = if add {
            ("group.user_membership.add", "Add user to group membership")
        } else {
            (
                "group.user_membership.remove",
                "Remove user from group membership",
            )
        };
        let t = vec![self.user_target(uid), self.group_target(gid)];
        self.log(ctx, event, message, t);
        self.log_app_access_diff(ctx, uid, &before);
    }

    fn apply_rules_to_all(&mut self, ctx: &Ctx) {
        let users: Vec<String> = self.users.keys().cloned().collect();
        for uid in users {
            self.apply_rules(ctx, &uid);
        }
    }
}

fn find<'a>(inner: &'a Inner, id: &str) -> OktaResult<&'a Rule> {
    inner
        .rules
        .get(id)
        .ok_or_else(|| OktaError::not_found(id, "GroupRule"))
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let limit = ctx.limit(50, 200)?;
    let inner = o.core.state();
    let rules: Vec<&Rule> = inner.rules.values().collect();
    let (items, next) = page(rules, ctx.param("after"), limit, |r| r.id.clone());
    let items = items.into_iter().map(Rule::to_json).collect();
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn create(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let (b, parsed) = validated(&inner, &body)?;
    let id = inner.new_id("0pr");
    let rule = Rule {
        id: id.clone(),
        name: b.name,
        expression: b.conditions.expression.value,
        parsed,
        group_ids: b.actions.assign_user_to_groups.group_ids,
        exclude_users: b
            .conditions
            .people
            .and_then(|p| p.users)
            .map(|u| u.exclude)
            .unwrap_or_default(),
        // Okta creates rules INACTIVE; only the activate lifecycle call turns them on.
        active: false,
        created: ctx.now,
        last_updated: ctx.now,
    };
    let body = rule.to_json();
    inner.rules.insert(id.clone(), rule);
    inner.writes.count(format!("rule/{id}"));
    Ok(ok(&body))
}

pub async fn get(State(o): State<Arc<Okta>>, Path(id): Path<String>) -> OktaResult<Response> {
    let inner = o.core.state();
    Ok(ok(&find(&inner, &id)?.to_json()))
}

pub async fn replace(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    if find(&inner, &id)?.active {
        return Err(OktaError::validation(
            "groupRule",
            vec!["Cannot update an ACTIVE rule; deactivate it first".into()],
        ));
    }
    let (b, parsed) = validated(&inner, &body)?;
    let rule = inner
        .rules
        .get_mut(&id)
        .ok_or_else(|| OktaError::not_found(&id, "GroupRule"))?;
    rule.name = b.name;
    rule.expression = b.conditions.expression.value;
    rule.parsed = parsed;
    rule.group_ids = b.actions.assign_user_to_groups.group_ids;
    rule.last_updated = ctx.now;
    let body = rule.to_json();
    Ok(ok(&body))
}

pub async fn delete(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let remove_users = ctx.bool_param("removeUsers", false)?;
    let mut inner = o.core.state();
    find(&inner, &id)?;
    inner.rules.remove(&id);
    let made: Vec<(String, String)> = inner
        .rule_members
        .iter()
        .filter(|(_, r)| **r == id)
        .map(|(k, _)| k.clone())
        .collect();
    for key in made {
        inner.rule_members.remove(&key);
        if remove_users {
            inner.set_membership(&ctx, &key.0, &key.1, false);
        }
    }
    inner.writes.count(format!("rule/{id}"));
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn lifecycle(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, op)): Path<(String, String)>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    find(&inner, &id)?;
    let active = match op.as_str() {
        "activate" => true,
        "deactivate" => false,
        _ => return Err(OktaError::path_not_found()),
    };
    if let Some(rule) = inner.rules.get_mut(&id) {
        rule.active = active;
        rule.last_updated = ctx.now;
    }
    if active {
        inner.apply_rules_to_all(&ctx);
    }
    inner.writes.count(format!("rule/{id}"));
    Ok(no_content())
}
