//! Salesforce REST emulator (served over HTTPS by the sandbox): `/services/data/` versions, SOQL `query/` and
//! `queryAll/` with `nextRecordsUrl` paging, sObject create/get/update/delete for User, Profile, PermissionSet
//! and PermissionSetAssignment (UserLogin: get and update, which freezes a user), errors as `[{message, errorCode, fields}]`, Bearer session auth, and
//! `Sforce-Limit-Info` on every answer with 403 `REQUEST_LIMIT_EXCEEDED` once the org's budget is spent.

mod oauth;
mod seed;
mod soql;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

pub use oauth::CONSUMER_KEY;
pub use seed::{SalesforceSeed, SalesforceSeedPermissionSet, SalesforceSeedUser};
pub use state::Salesforce;

use crate::emulator::tokens::TokenIssuer;
use crate::emulator::{
    CoreAdmin, Ctx, Emulator, EmulatorConfig, credentials, json_response, random_token, set_header,
};
use crate::hand_change::HandChange;
use state::{Inner, SfError, schema};

/// API versions the emulator answers for (simple-salesforce defaults to 59.0).
const VERSIONS: &[(&str, &str)] = &[
    ("57.0", "Spring '23"),
    ("58.0", "Summer '23"),
    ("59.0", "Winter '24"),
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
];

impl Emulator for Salesforce {
    const KIND: &'static str = "salesforce";
    const HTTPS: bool = true;
    type Seed = SalesforceSeed;

    fn start(seed: &SalesforceSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Salesforce {
            core: config.core(seed, config.windows(state::BUCKETS)),
            // A session id shaped like Salesforce's (`00D…!…`).
            token: config.token_or(|| random_token("00D8d000000SANDBX!", 96)),
            issuer: TokenIssuer::new("sandbox-connected-app", config.token_lifetime_seconds).ok(),
        })
    }

    /// The fixed session id, and the private key whose certificate the connected app holds.
    fn credentials(&self) -> BTreeMap<String, String> {
        let mut published = credentials([("token", &self.token)]);
        if let Some(issuer) = &self.issuer {
            published.insert("private_key".into(), issuer.private_pem().to_owned());
        }
        published
    }

    /// The connected app's consumer key, the integration user (the seed's first active System
    /// Administrator), and the login URL: the emulator itself.
    fn settings_at(&self, base_url: &str) -> serde_json::Map<String, Value> {
        let mut settings = serde_json::Map::new();
        settings.insert("consumer_key".into(), oauth::CONSUMER_KEY.into());
        settings.insert("login_url".into(), base_url.into());
        if let Some(username) = self.integration_user() {
            settings.insert("username".into(), username.into());
        }
        if let Some(issuer) = &self.issuer {
            settings.insert(
                "session_timeout_seconds".into(),
                issuer.lifetime_seconds().into(),
            );
        }
        settings
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route("/__sandbox/tokens", get(tokens).post(set_tokens))
    }

    fn reset(&self) {
        self.core.reset();
        if let Some(issuer) = &self.issuer {
            issuer.reset();
        }
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        const V: &str = "/services/data/{version}";
        Router::new()
            .route("/services/data", get(versions))
            .route("/services/data/", get(versions))
            .route(&format!("{V}/limits"), get(limits))
            .route(&format!("{V}/limits/"), get(limits))
            .route(&format!("{V}/query"), get(query))
            .route(&format!("{V}/query/"), get(query))
            .route(&format!("{V}/queryAll"), get(query))
            .route(&format!("{V}/queryAll/"), get(query))
            .route(&format!("{V}/query/{{locator}}"), get(query_more))
            .route(&format!("{V}/queryAll/{{locator}}"), get(query_more))
            .route(
                &format!("{V}/sobjects/{{object}}"),
                axum::routing::post(create),
            )
            .route(
                &format!("{V}/sobjects/{{object}}/"),
                axum::routing::post(create),
            )
            .route(
                &format!("{V}/sobjects/{{object}}/{{id}}"),
                get(read).patch(update).delete(remove),
            )
            .fallback(|| async { SfError::not_found() })
            .method_not_allowed_fallback(|| async {
                SfError::new(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "HTTP Method is not allowed for this resource",
                )
            })
            .layer(middleware::from_fn_with_state(this.clone(), sf_layer))
            // The token endpoint takes no session (it is where one comes from) and is not an API request.
            .merge(Router::new().route("/services/oauth2/token", axum::routing::post(oauth::token)))
    }

    /// Permission set assignments and deactivation, as an administrator changes them in Setup.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        self.core.state().hand_change(change)
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(
            status,
            &json!([{ "message": self.message, "errorCode": self.code, "fields": self.fields }]),
        )
    }
}

fn authorized(s: &Salesforce, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .is_some_and(|presented| s.session_valid(presented))
}

/// `GET /__sandbox/tokens`: the sessions' lifetime and counts.
async fn tokens(State(s): State<Arc<Salesforce>>) -> Response {
    match &s.issuer {
        Some(issuer) => json_response(StatusCode::OK, &issuer.settings_json()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /__sandbox/tokens`: `{"lifetime_seconds": n, "expire_now": true}`.
async fn set_tokens(State(s): State<Arc<Salesforce>>, body: Bytes) -> Response {
    let Some(issuer) = &s.issuer else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match issuer.configure(&body, s.core.now()) {
        Ok(settings) => json_response(StatusCode::OK, &settings),
        Err(e) => e.into_response(),
    }
}

impl Salesforce {
    /// The username grantflow's connection acts as: the first active System Administrator.
    fn integration_user(&self) -> Option<String> {
        let state = self.core.state();
        let users = state.records.get("User")?;
        let profiles = state.records.get("Profile")?;
        users.values().find_map(|user| {
            let profile = user.get("ProfileId").and_then(Value::as_str)?;
            let admin = profiles
                .get(profile)
                .and_then(|p| p.get("Name"))
                .and_then(Value::as_str)
                == Some("System Administrator");
            let active = user.get("IsActive").and_then(Value::as_bool) != Some(false);
            (admin && active)
                .then(|| {
                    user.get("Username")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .flatten()
        })
    }
}

async fn sf_layer(State(s): State<Arc<Salesforce>>, req: Request, next: Next) -> Response {
    let now = s.core.now();
    // The versions list is public; everything else needs a session.
    let public = matches!(req.uri().path(), "/services/data" | "/services/data/");
    if !public && !authorized(&s, req.headers()) {
        return SfError::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
            .into_response();
    }
    let decision = s.core.limits().charge("api", now);
    let mut resp = if !decision.allowed {
        s.core.state().refused += 1;
        SfError::new(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
        .into_response()
    } else {
        match s
            .core
            .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
            .await
        {
            Some(status) => SfError::new(
                status.as_u16(),
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    "SERVER_UNAVAILABLE"
                } else {
                    "UNKNOWN_EXCEPTION"
                },
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)",
            )
            .into_response(),
            None => next.run(req).await,
        }
    };
    let used = if decision.allowed {
        decision.used
    } else {
        decision.limit.saturating_add(1)
    };
    set_header(
        &mut resp,
        "sforce-limit-info",
        &format!("api-usage={used}/{}", decision.limit),
    );
    resp
}

async fn versions(ctx: Ctx) -> Response {
    let _ = ctx;
    json_response(
        StatusCode::OK,
        &Value::Array(
            VERSIONS
                .iter()
                .map(|(v, label)| json!({"label": label, "url": format!("/services/data/v{v}"), "version": v}))
                .collect(),
        ),
    )
}

/// `vXX.X` → `XX.X`, for versions the emulator knows.
fn version(v: &str) -> Result<&str, SfError> {
    v.strip_prefix('v')
        .filter(|n| VERSIONS.iter().any(|(k, _)| k == n))
        .ok_or_else(SfError::not_found)
}

async fn limits(State(s): State<Arc<Salesforce>>, Path(v): Path<String>) -> Response {
    if let Err(e) = version(&v) {
        return e.into_response();
    }
    let max = s.core.limits().limit("api").unwrap_or(0);
    json_response(
        StatusCode::OK,
        &json!({"DailyApiRequests": {"Max": max, "Remaining": max}}),
    )
}

/// Records per page unless `Sforce-Query-Options: batchSize=n` asks otherwise. Salesforce takes 200–2000; the
/// emulator takes any positive size so small seeds can exercise paging.
fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
                .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        })
        .filter(|n| *n > 0)
        .unwrap_or(2000)
        .min(2000)
}

/// One page of a result from `offset`, with `nextRecordsUrl` when more remain.
fn page(
    inner: &mut Inner,
    v: &str,
    kind: &str,
    rows: Vec<Value>,
    offset: usize,
    size: usize,
    locator: Option<String>,
) -> Value {
    let total = rows.len();
    let records: Vec<Value> = rows.iter().skip(offset).take(size).cloned().collect();
    let end = offset + records.len();
    let mut body = json!({"totalSize": total, "done": end >= total, "records": records});
    if end < total {
        let locator = locator.unwrap_or_else(|| {
            let n = inner.cursors.len() + 1;
            format!("01g8d00000{n:05}QAA")
        });
        inner.cursors.insert(locator.clone(), rows);
        body["nextRecordsUrl"] =
            Value::String(format!("/services/data/v{v}/{kind}/{locator}-{end}"));
    }
    body
}

async fn query(
    State(s): State<Arc<Salesforce>>,
    Path(v): Path<String>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Response {
    let kind = if ctx.path.contains("/queryAll") {
        "queryAll"
    } else {
        "query"
    };
    let result: Result<_, SfError> = (|| {
        let v = version(&v)?;
        let text = ctx.param("q").ok_or_else(|| {
            SfError::malformed("A query string must be provided with the 'q' parameter".into())
        })?;
        let q = soql::parse(text).map_err(SfError::malformed)?;
        let mut inner = s.core.state();
        let rows = inner.run(&q, v)?;
        Ok(page(
            &mut inner,
            v,
            kind,
            rows,
            0,
            batch_size(&headers),
            None,
        ))
    })();
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

async fn query_more(
    State(s): State<Arc<Salesforce>>,
    Path((v, locator)): Path<(String, String)>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Response {
    let kind = if ctx.path.contains("/queryAll/") {
        "queryAll"
    } else {
        "query"
    };
    let result: Result<_, SfError> = (|| {
        let v = version(&v)?;
        let invalid = || SfError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
        let offset: usize = offset.parse().map_err(|_| invalid())?;
        let mut inner = s.core.state();
        let rows = inner.cursors.get(id).cloned().ok_or_else(invalid)?;
        Ok(page(
            &mut inner,
            v,
            kind,
            rows,
            offset,
            batch_size(&headers),
            Some(id.to_owned()),
        ))
    })();
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

fn object_of(name: &str) -> Result<&'static state::Schema, SfError> {
    schema(name).ok_or_else(SfError::not_found)
}

/// The JSON object body with canonical field names; an unknown field is `INVALID_FIELD`.
fn fields_of(schema: &state::Schema, body: &Bytes) -> Result<Map<String, Value>, SfError> {
    let Ok(Value::Object(given)) = serde_json::from_slice::<Value>(body) else {
        return Err(SfError::new(
            400,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object.",
        ));
    };
    let mut out = Map::new();
    for (k, v) in given {
        if state::AUDIT_FIELDS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&k))
        {
            return Err(SfError::new(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!("Unable to create/update fields: {k}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."),
            )
            .with_fields(vec![k]));
        }
        let field = schema.field(&k).filter(|f| *f != "Id").ok_or_else(|| {
            SfError::new(
                400,
                "INVALID_FIELD",
                format!("No such column '{k}' on sobject of type {}", schema.name),
            )
        })?;
        out.insert(field.to_owned(), v);
    }
    Ok(out)
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Cross-object rules of create: references exist, unique values stay unique.
fn check_create(inner: &Inner, object: &str, fields: &Map<String, Value>) -> Result<(), SfError> {
    let exists = |id: &str, want: &str| inner.find(id).is_some_and(|(t, _)| t == want);
    let cross = |field: &str| {
        SfError::new(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        )
        .with_fields(vec![field.to_owned()])
    };
    let table = |t: &str| inner.records.get(t).into_iter().flat_map(|m| m.values());
    match object {
        "PermissionSetAssignment" => {
            let assignee = text(fields, "AssigneeId").unwrap_or_default();
            if !exists(assignee, "User") {
                return Err(cross("AssigneeId"));
            }
            let Some(set) = text(fields, "PermissionSetId") else {
                return Err(SfError::new(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [PermissionSetId]",
                )
                .with_fields(vec!["PermissionSetId".into()]));
            };
            if !exists(set, "PermissionSet") {
                return Err(cross("PermissionSetId"));
            }
            let same = |r: &&Map<String, Value>| {
                text(r, "AssigneeId").is_some_and(|a| a.eq_ignore_ascii_case(assignee))
                    && text(r, "PermissionSetId").is_some_and(|p| p.eq_ignore_ascii_case(set))
            };
            if table("PermissionSetAssignment").any(|r| same(&r)) {
                return Err(SfError::new(
                    400,
                    "DUPLICATE_VALUE",
                    "duplicate value found: <unknown> duplicates value on record with id: <unknown>",
                ));
            }
        }
        "User" => {
            let username = text(fields, "Username").unwrap_or_default();
            if table("User")
                .any(|r| text(r, "Username").is_some_and(|u| u.eq_ignore_ascii_case(username)))
            {
                return Err(SfError::new(
                    400,
                    "DUPLICATE_USERNAME",
                    "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ",
                )
                .with_fields(vec!["Username".into()]));
            }
            if !exists(text(fields, "ProfileId").unwrap_or_default(), "Profile") {
                return Err(cross("ProfileId"));
            }
        }
        "PermissionSet" | "Profile" => {
            let name = text(fields, "Name").unwrap_or_default();
            if table(object).any(|r| text(r, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
            {
                return Err(SfError::new(
                    400,
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: Name duplicates value on record with id: {name}"
                    ),
                )
                .with_fields(vec!["Name".into()]));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rules of an update: a User's Username stays unique and its ProfileId names a profile; a UserLogin's
/// `UserId` is fixed, and `IsPasswordLocked` can only be cleared from the API.
fn check_update(
    inner: &Inner,
    object: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<(), SfError> {
    let not_updatable = |field: &str| {
        SfError::new(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!("Unable to create/update fields: {field}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."),
        )
        .with_fields(vec![field.to_owned()])
    };
    match object {
        "User" => {
            if let Some(username) = text(fields, "Username") {
                let taken = inner
                    .records
                    .get("User")
                    .into_iter()
                    .flatten()
                    .any(|(other, r)| {
                        other != id
                            && text(r, "Username").is_some_and(|u| u.eq_ignore_ascii_case(username))
                    });
                if taken {
                    return Err(SfError::new(
                        400,
                        "DUPLICATE_USERNAME",
                        "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ",
                    )
                    .with_fields(vec!["Username".into()]));
                }
            }
            if let Some(profile) = fields.get("ProfileId") {
                let known = profile
                    .as_str()
                    .and_then(|p| inner.find(p))
                    .is_some_and(|(t, _)| t == "Profile");
                if !known {
                    return Err(SfError::new(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                    )
                    .with_fields(vec!["ProfileId".into()]));
                }
            }
        }
        "UserLogin" => {
            if fields.contains_key("UserId") {
                return Err(not_updatable("UserId"));
            }
            if fields.get("IsPasswordLocked") == Some(&Value::Bool(true)) {
                return Err(not_updatable("IsPasswordLocked"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn write_key(inner: &Inner, object: &str, record: &Map<String, Value>) -> String {
    if object == "PermissionSetAssignment" {
        let set = text(record, "PermissionSetId")
            .and_then(|id| inner.find(id))
            .and_then(|(_, r)| text(r, "Name").map(str::to_owned))
            .unwrap_or_default();
        let user = text(record, "AssigneeId").unwrap_or_default();
        return format!("permission_set/{set}/assigned/{user}");
    }
    format!("{object}/{}", text(record, "Id").unwrap_or_default())
}

/// `POST sobjects/{Type}/`: 201 `{id, success, errors}`.
async fn create(
    State(s): State<Arc<Salesforce>>,
    Path((v, object)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let result: Result<_, SfError> = (|| {
        version(&v)?;
        let schema = object_of(&object)?;
        let mut fields = fields_of(schema, &body)?;
        let missing: Vec<String> = schema
            .required
            .iter()
            .filter(|f| {
                fields
                    .get(**f)
                    .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
            })
            .map(|f| (*f).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(SfError::new(
                400,
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
            )
            .with_fields(missing));
        }
        if schema.name == "UserLogin" {
            // Salesforce makes a user's UserLogin with the user; the API only reads and updates it.
            return Err(SfError::new(
                405,
                "METHOD_NOT_ALLOWED",
                "HTTP Method 'POST' not allowed. Allowed are GET,HEAD",
            ));
        }
        let mut inner = s.core.state();
        check_create(&inner, schema.name, &fields)?;
        match schema.name {
            "User" => {
                fields.entry("IsActive").or_insert(Value::Bool(true));
                let name = format!(
                    "{} {}",
                    text(&fields, "FirstName").unwrap_or_default(),
                    text(&fields, "LastName").unwrap_or_default()
                );
                fields.insert("Name".into(), Value::String(name.trim().to_owned()));
            }
            "PermissionSetAssignment" => {
                fields.entry("IsActive").or_insert(Value::Bool(true));
            }
            "PermissionSet" => {
                fields.insert("IsOwnedByProfile".into(), Value::Bool(false));
                fields
                    .entry("Type")
                    .or_insert(Value::String("Regular".into()));
            }
            _ => {}
        }
        // Salesforce stamps its audit fields itself.
        if schema.field("CreatedDate").is_some() {
            let now = state::sf_datetime(s.core.now());
            fields.insert("CreatedDate".into(), Value::String(now.clone()));
            fields.insert("SystemModstamp".into(), Value::String(now));
            // The caller: the first active System Administrator (the connection's integration user).
            let creator = inner.records.get("User").and_then(|users| {
                users.values().find_map(|u| {
                    let profile = text(u, "ProfileId").and_then(|p| inner.find(p));
                    let admin =
                        profile.and_then(|(_, p)| text(p, "Name")) == Some("System Administrator");
                    let active = u.get("IsActive").and_then(Value::as_bool) != Some(false);
                    (admin && active).then(|| u.get("Id").cloned()).flatten()
                })
            });
            fields.insert("CreatedById".into(), creator.unwrap_or(Value::Null));
        }
        let id = inner.insert(schema.name, Value::Object(fields));
        if schema.name == "User" {
            inner.insert_user_login(&id);
        }
        let key = inner
            .records
            .get(schema.name)
            .and_then(|t| t.get(&id))
            .map(|r| write_key(&inner, schema.name, r))
            .unwrap_or_default();
        inner.writes.count(key);
        Ok(json!({"id": id, "success": true, "errors": []}))
    })();
    match result {
        Ok(body) => json_response(StatusCode::CREATED, &body),
        Err(e) => e.into_response(),
    }
}

fn located<'a>(
    inner: &'a Inner,
    object: &str,
    id: &str,
) -> Result<(&'static state::Schema, &'a Map<String, Value>), SfError> {
    let schema = object_of(object)?;
    let record = inner
        .records
        .get(schema.name)
        .and_then(|t| {
            t.get(id).or_else(|| {
                t.iter()
                    .find(|(k, _)| id.len() == 15 && k.starts_with(id))
                    .map(|(_, r)| r)
            })
        })
        .ok_or_else(SfError::not_found)?;
    Ok((schema, record))
}

async fn read(
    State(s): State<Arc<Salesforce>>,
    Path((v, object, id)): Path<(String, String, String)>,
    ctx: Ctx,
) -> Response {
    let result: Result<_, SfError> = (|| {
        let v = version(&v)?;
        let inner = s.core.state();
        let (schema, record) = located(&inner, &object, &id)?;
        let fields: Vec<String> = match ctx.param("fields") {
            Some(list) => list
                .split(',')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect(),
            None => schema.fields.iter().map(|f| (*f).to_owned()).collect(),
        };
        inner.shape(schema, record, &fields, v)
    })();
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

/// `PATCH sobjects/{Type}/{id}`: 204.
async fn update(
    State(s): State<Arc<Salesforce>>,
    Path((v, object, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let result: Result<_, SfError> = (|| {
        version(&v)?;
        let mut inner = s.core.state();
        let (schema, record) = located(&inner, &object, &id)?;
        let fields = fields_of(schema, &body)?;
        let full_id = text(record, "Id").unwrap_or_default().to_owned();
        check_update(&inner, schema.name, &full_id, &fields)?;
        let mut updated = record.clone();
        updated.extend(fields);
        let key = write_key(&inner, schema.name, &updated);
        if let Some(table) = inner.records.get_mut(schema.name) {
            table.insert(full_id, updated);
        }
        inner.writes.count(key);
        Ok(())
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE sobjects/{Type}/{id}`: 204. Users cannot be deleted, only deactivated.
async fn remove(
    State(s): State<Arc<Salesforce>>,
    Path((v, object, id)): Path<(String, String, String)>,
) -> Response {
    let result: Result<_, SfError> = (|| {
        version(&v)?;
        let mut inner = s.core.state();
        let (schema, record) = located(&inner, &object, &id)?;
        if schema.name == "UserLogin" {
            return Err(SfError::new(
                405,
                "METHOD_NOT_ALLOWED",
                "HTTP Method 'DELETE' not allowed. Allowed are GET,HEAD,PATCH",
            ));
        }
        if !schema.deletable {
            return Err(SfError::new(
                400,
                "DELETE_FAILED",
                "Users can't be deleted. Deactivate the user instead (IsActive = false).",
            ));
        }
        let full_id = text(record, "Id").unwrap_or_default().to_owned();
        let key = write_key(&inner, schema.name, record);
        if let Some(table) = inner.records.get_mut(schema.name) {
            table.remove(&full_id);
        }
        inner.writes.count(key);
        Ok(())
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
