//! `/api/v1/users`: create, read, list with search/filter/q, partial and full profile updates, delete, groups and appLinks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::context::{Ctx, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::filter::{self, Op};
use super::pagination::{list_response, page_from, past};
use super::state::{Inner, Okta, User, UserStatus};

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    #[serde(default)]
    pub profile: Option<Map<String, Value>>,
    #[serde(default)]
    pub credentials: Option<Credentials>,
    #[serde(default)]
    pub group_ids: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Credentials {
    #[serde(default)]
    pub password: Option<PasswordCred>,
    #[serde(default)]
    pub recovery_question: Option<RecoveryQuestion>,
}

#[derive(Debug, Deserialize, Default)]
pub struct PasswordCred {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub hash: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
pub struct RecoveryQuestion {
    #[serde(default)]
    pub question: Option<String>,
}

impl Credentials {
    fn sets_password(&self) -> bool {
        self.password
            .as_ref()
            .is_some_and(|p| p.value.as_deref().is_some_and(|v| !v.is_empty()) || p.hash.is_some())
    }
}

fn str_field<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    p.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Okta's default user schema rules, with its cause wording.
fn validate_profile(
    inner: &Inner,
    profile: &Map<String, Value>,
    self_id: Option<&str>,
) -> Vec<String> {
    let mut causes = Vec::new();
    for (k, min, max) in [
        ("login", 5, 100),
        ("email", 5, 100),
        ("firstName", 1, 50),
        ("lastName", 1, 50),
    ] {
        match profile.get(k) {
            None | Some(Value::Null) => causes.push(format!("{k}: The field cannot be left blank")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                causes.push(format!("{k}: The field cannot be left blank"))
            }
            Some(Value::String(s)) if s.chars().count() < min => {
                causes.push(format!("{k}: The field is too short"))
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                causes.push(format!("{k}: The field is too long"))
            }
            Some(Value::String(_)) => {}
            Some(_) => causes.push(format!("{k}: The field must be a string")),
        }
    }
    if let Some(login) = str_field(profile, "login") {
        if !login.contains('@') {
            causes.push("login: Username must be in the form of an email address".into());
        }
        let taken = inner
            .users
            .values()
            .any(|u| Some(u.id.as_str()) != self_id && u.login().eq_ignore_ascii_case(login));
        if taken {
            causes.push(
                "login: An object with this field already exists in the current organization"
                    .into(),
            );
        }
    }
    if let Some(email) = str_field(profile, "email")
        && !email.contains('@')
    {
        causes.push("email: Does not match required pattern".into());
    }
    causes
}

/// `nextLogin=changePassword`: the user is created activated with their password already expired,
/// which Okta allows only with `activate=true` (E0000125) and a password (E0000124).
fn expires_password(ctx: &Ctx, activate: bool, has_password: bool) -> OktaResult<bool> {
    let refused = |code: &'static str, summary: &str| {
        OktaError::new(StatusCode::BAD_REQUEST, code, summary.to_string())
            .with_causes(vec![summary.to_string()])
    };
    match ctx.param("nextLogin") {
        None | Some("") => Ok(false),
        Some("changePassword") if !activate => Err(refused(
            "E0000125",
            "Could not create user. To create a user and expire their password immediately, `activate` must be true.",
        )),
        Some("changePassword") if !has_password => Err(refused(
            "E0000124",
            "Could not create user. To create a user and expire their password immediately, a password must be specified.",
        )),
        Some("changePassword") => Ok(true),
        Some(other) => Err(OktaError::validation(
            "nextLogin",
            vec![format!(
                "nextLogin: '{other}' is not a valid value (changePassword)"
            )],
        )),
    }
}

pub async fn create(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> OktaResult<Response> {
    let req: UserBody = parse_body(&body, "createUser")?;
    let activate = ctx.bool_param("activate", true)?;
    let mut inner = o.core.state();
    let profile = req.profile.unwrap_or_default();
    let causes = validate_profile(&inner, &profile, None);
    if !causes.is_empty() {
        return Err(OktaError::validation(
            if causes.iter().any(|c| c.starts_with("login")) {
                "login"
            } else {
                "createUser"
            },
            causes,
        ));
    }
    for gid in &req.group_ids {
        if !inner.groups.contains_key(gid) {
            return Err(OktaError::not_found(gid, "UserGroup"));
        }
    }
    let creds = req.credentials.unwrap_or_default();
    let has_password = creds.sets_password();
    let expire_password = expires_password(&ctx, activate, has_password)?;
    // `provider=true`: an identity provider holds the credentials, so an activated user is ACTIVE
    // without a password.
    let provider = ctx.bool_param("provider", false)?;
    let status = match (activate, has_password || provider, expire_password) {
        (false, ..) => UserStatus::Staged,
        (true, _, true) => UserStatus::PasswordExpired,
        (true, true, false) => UserStatus::Active,
        (true, false, false) => UserStatus::Provisioned,
    };
    let id = inner.new_id("00u");
    let now = ctx.now;
    let mut profile = profile;
    for k in ["mobilePhone", "secondEmail"] {
        profile.entry(k).or_insert(Value::Null);
    }
    let user = User {
        id: id.clone(),
        status,
        created: now,
        activated: matches!(status, UserStatus::Active | UserStatus::PasswordExpired)
            .then_some(now),
        status_changed: (status != UserStatus::Staged).then_some(now),
        last_updated: now,
        password_changed: has_password.then_some(now),
        profile,
        has_password,
        recovery_question: creds.recovery_question.and_then(|q| q.question),
    };
    inner.users.insert(id.clone(), user);
    if let Some(password) = creds.password.as_ref().and_then(|p| p.value.clone()) {
        inner.passwords.insert(id.clone(), password);
    }
    let everyone = inner.everyone.clone();
    if let Some(g) = inner.groups.get_mut(&everyone) {
        g.members.insert(id.clone());
    }
    inner.writes.count(format!("user/{id}"));
    let t = vec![inner.user_target(&id)];
    inner.log(&ctx, "user.lifecycle.create", "Create Okta user", t.clone());
    if activate {
        inner.log(&ctx, "user.lifecycle.activate", "Activate Okta user", t);
    }
    for gid in req.group_ids {
        let before = inner.user_apps(&id);
        if let Some(g) = inner.groups.get_mut(&gid) {
            g.members.insert(id.clone());
            g.last_membership_updated = now;
        }
        inner.writes.count(format!("group/{gid}/user/{id}"));
        let t = vec![inner.user_target(&id), inner.group_target(&gid)];
        inner.log(
            &ctx,
            "group.user_membership.add",
            "Add user to group membership",
            t,
        );
        inner.log_app_access_diff(&ctx, &id, &before);
    }
    inner.apply_rules(&ctx, &id);
    let body = inner
        .users
        .get(&id)
        .map(|u| u.to_json(&ctx))
        .unwrap_or(Value::Null);
    Ok(ok(&body))
}

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    let user = inner
        .find_user(&id)
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let mut resp = ok(&user.to_json(&ctx));
    let etag = format!("W/\"{}\"", user.last_updated.timestamp_millis());
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

const FILTER_ATTRS: &[&str] = &[
    "status",
    "lastUpdated",
    "id",
    "profile.login",
    "profile.email",
    "profile.firstName",
    "profile.lastName",
];
const CONTAINS_ATTRS: &[&str] = &[
    "profile.firstName",
    "profile.lastName",
    "profile.email",
    "profile.login",
];

/// `filter` allows only `eq` on a few attributes (ranges on lastUpdated); `search` allows sw/eq/co (co on names).
fn user_expr(ctx: &Ctx) -> OktaResult<Option<filter::Expr>> {
    if let Some(s) = ctx.param("search").filter(|s| !s.is_empty()) {
        let e = filter::parse(s).map_err(|_| OktaError::invalid_search())?;
        let allowed = |attr: &str, op: Op| match op {
            Op::Co => CONTAINS_ATTRS.contains(&attr),
            Op::Ne => false,
            _ => true,
        };
        if !e.check(&allowed) || e.uses_not() {
            return Err(OktaError::invalid_search());
        }
        return Ok(Some(e));
    }
    if let Some(f) = ctx.param("filter").filter(|s| !s.is_empty()) {
        let e = filter::parse(f).map_err(|_| OktaError::invalid_search())?;
        let allowed = |attr: &str, op: Op| {
            FILTER_ATTRS.contains(&attr)
                && (op == Op::Eq
                    || (attr == "lastUpdated" && matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le)))
        };
        if !e.check(&allowed) || e.uses_not() {
            return Err(OktaError::invalid_search());
        }
        return Ok(Some(e));
    }
    Ok(None)
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let q = ctx
        .param("q")
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let limit = ctx.limit(if q.is_some() { 10 } else { 200 }, 200)?;
    let expr = user_expr(&ctx)?;
    let inner = o.core.state();
    let rest = inner
        .users
        .range::<str, _>(past(ctx.param("after")))
        .map(|(_, u)| u)
        // A plain list and `q` omit DEPROVISIONED users; search and filter include them.
        .filter(|u| expr.is_some() || u.status != UserStatus::Deprovisioned)
        .filter(|u| match &q {
            None => true,
            Some(q) => ["firstName", "lastName", "email"].iter().any(|k| {
                u.profile
                    .get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase().starts_with(q))
            }),
        })
        .map(|u| u.to_json(&ctx))
        .filter(|j| expr.as_ref().is_none_or(|e| e.matches(j)));
    let (items, next) = page_from(rest, limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

/// POST is a partial update, PUT a full replace ("any property not specified in the request is deleted").
async fn update(
    o: Arc<Okta>,
    ctx: Ctx,
    id: String,
    body: Bytes,
    replace: bool,
) -> OktaResult<Response> {
    let req: UserBody = parse_body(&body, "updateUser")?;
    let mut inner = o.core.state();
    let user = inner
        .find_user(&id)
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let uid = user.id.clone();
    let mut profile = if replace {
        Map::new()
    } else {
        user.profile.clone()
    };
    if replace && req.profile.is_none() {
        return Err(OktaError::validation(
            "updateUser",
            vec!["profile: The field cannot be left blank".into()],
        ));
    }
    if let Some(p) = req.profile.clone() {
        for (k, v) in p {
            profile.insert(k, v);
        }
    }
    let causes = validate_profile(&inner, &profile, Some(&uid));
    if !causes.is_empty() {
        return Err(OktaError::validation("updateUser", causes));
    }
    let sets_password = req
        .credentials
        .as_ref()
        .is_some_and(Credentials::sets_password);
    let now = ctx.now;
    let Some(user) = inner.users.get_mut(&uid) else {
        return Err(OktaError::not_found(&id, "User"));
    };
    user.profile = profile;
    user.last_updated = now;
    if sets_password {
        user.has_password = true;
        user.password_changed = Some(now);
    }
    if let Some(q) = req
        .credentials
        .and_then(|c| c.recovery_question)
        .and_then(|q| q.question)
    {
        user.recovery_question = Some(q);
    }
    inner.writes.count(format!("user/{uid}"));
    let t = vec![inner.user_target(&uid)];
    if req.profile.is_some() {
        inner.log(
            &ctx,
            "user.account.update_profile",
            "Update user profile for Okta",
            t.clone(),
        );
    }
    if sets_password {
        inner.log(
            &ctx,
            "user.account.update_password",
            "Update password for user",
            t,
        );
    }
    inner.apply_rules(&ctx, &uid);
    let body = inner
        .users
        .get(&uid)
        .map(|u| u.to_json(&ctx))
        .unwrap_or(Value::Null);
    Ok(ok(&body))
}

pub async fn partial_update(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    update(o, ctx, id, body, false).await
}

pub async fn replace(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    update(o, ctx, id, body, true).await
}

/// Deactivates and removes the user's direct app assignments (deactivation deprovisions apps).
pub fn deactivate(inner: &mut Inner, ctx: &Ctx, uid: &str) {
    let before = inner.user_apps(uid);
    if let Some(u) = inner.users.get_mut(uid) {
        u.set_status(UserStatus::Deprovisioned, ctx.now);
    }
    for app in inner.apps.values_mut() {
        app.users.remove(uid);
    }
    let t = vec![inner.user_target(uid)];
    inner.log(ctx, "user.lifecycle.deactivate", "Deactivate Okta user", t);
    inner.log_app_access_diff(ctx, uid, &before);
}

pub async fn delete(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let user = inner
        .find_user(&id)
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let uid = user.id.clone();
    if user.status != UserStatus::Deprovisioned {
        // Okta: "If the user is not deactivated, this call deactivates them and a second DELETE is needed."
        deactivate(&mut inner, &ctx, &uid);
    } else {
        let t = vec![inner.user_target(&uid)];
        inner.log(
            &ctx,
            "user.lifecycle.delete.initiated",
            "Delete Okta user",
            t,
        );
        inner.users.remove(&uid);
        for g in inner.groups.values_mut() {
            g.members.remove(&uid);
        }
        for a in inner.apps.values_mut() {
            a.users.remove(&uid);
        }
    }
    inner.writes.count(format!("user/{uid}"));
    Ok(no_content())
}

pub async fn groups(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    let user = inner
        .find_user(&id)
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let items: Vec<Value> = inner
        .groups
        .values()
        .filter(|g| g.members.contains(&user.id))
        .map(|g| g.to_json(&ctx, None))
        .collect();
    Ok(ok(&Value::Array(items)))
}

pub async fn app_links(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let uid = inner
        .find_user(&id)
        .map(|u| u.id.clone())
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let apps = inner.user_apps(&uid);
    let mut links = Vec::new();
    for (order, aid) in apps.keys().enumerate() {
        let key = (aid.clone(), uid.clone());
        let assignment = match inner.assignment_ids.get(&key) {
            Some(a) => a.clone(),
            None => {
                let a = inner.new_id("0ua");
                inner.assignment_ids.insert(key, a.clone());
                a
            }
        };
        let Some(app) = inner.apps.get(aid).filter(|a| a.active) else {
            continue;
        };
        links.push(json!({
            "id": uid,
            "label": app.label,
            "linkUrl": ctx.url(&format!("/home/{}/{}/{}", app.name, app.id, order)),
            "logoUrl": ctx.url("/img/logos/default.png"),
            "appName": app.name,
            "appInstanceId": app.id,
            "appAssignmentId": assignment,
            "credentialsSetup": false,
            "hidden": false,
            "sortOrder": order,
        }));
    }
    Ok(ok(&Value::Array(links)))
}

pub fn status_error(code: &'static str) -> OktaError {
    match code {
        "E0000016" => OktaError::new(
            StatusCode::FORBIDDEN,
            "E0000016",
            "Activation failed because the user is already active",
        ),
        "E0000032" => OktaError::new(
            StatusCode::FORBIDDEN,
            "E0000032",
            "Unlock is not allowed for this user.",
        ),
        _ => OktaError::wrong_status(),
    }
}
