//! People signed in with OpenID Connect: `/auth/login` sends the browser to
//! the provider, `/auth/callback` finishes the sign-in and opens a session,
//! `/auth/logout` ends it. The session is a random cookie; the server keeps
//! only its SHA-256, with the actor and the session's CSRF token.
//!
//! Sessions live in this process's memory: a restart signs people out,
//! which is the safe direction, and API tokens (not sessions) are what
//! programs and other processes use.
//!
//! Cookies are `__Host-` prefixed (Secure, Path=/, no Domain), HttpOnly
//! except the CSRF one (the page's script sends it back in `X-CSRF-Token`,
//! which a cross-site form cannot), and SameSite=Lax for the two the
//! provider's redirect back must carry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use grantflow_service::Actor;
use grantflow_service::signin::{PendingSignIn, SignIn};
use grantflow_store::AuditAction;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::Shared;
use crate::problem::Problem;

pub(crate) const SESSION_COOKIE: &str = "__Host-grantflow-session";
pub(crate) const CSRF_COOKIE: &str = "__Host-grantflow-csrf";
const SIGN_IN_COOKIE: &str = "__Host-grantflow-signin";
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser may take at the provider's sign-in page.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(10 * 60);

struct Session {
    actor: Actor,
    csrf: String,
    expires: DateTime<Utc>,
}

struct Pending {
    sign_in: PendingSignIn,
    started: DateTime<Utc>,
}

/// The sign-in client (when configured) and the live sessions.
pub(crate) struct Sessions {
    sign_in: Option<Arc<SignIn>>,
    lifetime: chrono::Duration,
    pending: Mutex<HashMap<String, Pending>>,
    live: Mutex<HashMap<String, Session>>,
}

/// A session's actor and whether the request proved it comes from our own
/// pages (the CSRF token).
pub(crate) struct SessionActor {
    pub actor: Actor,
    pub csrf_ok: bool,
    /// The session's CSRF token: the console's forms carry it in a hidden
    /// field, since a form sent without JavaScript cannot set a header.
    pub csrf: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Sessions are looked up by the hash of their cookie, so a memory dump or
/// a log line of the map never holds a usable cookie.
fn key(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(name: &str, value: &str, http_only: bool, same_site: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/; Secure;{} SameSite={same_site}; Max-Age={max_age}",
        if http_only { " HttpOnly;" } else { "" }
    )
}

impl Sessions {
    pub fn new(sign_in: Option<Arc<SignIn>>, lifetime: Duration) -> Self {
        Self {
            sign_in,
            lifetime: chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(12)),
            pending: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// The actor of the request's session cookie, if it names a live session.
    pub async fn resolve(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<SessionActor> {
        let value = cookie(headers, SESSION_COOKIE)?;
        let mut live = self.live.lock().await;
        live.retain(|_, session| session.expires > now);
        let session = live.get(&key(value))?;
        let csrf_ok = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|sent| same(sent, &session.csrf));
        Some(SessionActor {
            actor: session.actor.clone(),
            csrf_ok,
            csrf: session.csrf.clone(),
        })
    }
}

/// `GET /auth/login`: off to the provider.
pub(crate) async fn login(State(shared): State<Arc<Shared>>) -> Response {
    let sessions = &shared.sessions;
    let Some(sign_in) = sessions.sign_in.as_ref() else {
        return Problem::not_found("sign-in is not configured (the `sign_in:` section)")
            .into_response();
    };
    let (url, pending) = sign_in.begin();
    let browser = random_token();
    let now = shared.service.now();
    {
        let mut waiting = sessions.pending.lock().await;
        let window = chrono::Duration::from_std(SIGN_IN_WINDOW).unwrap_or_default();
        waiting.retain(|_, p| now - p.started < window);
        waiting.insert(
            key(&browser),
            Pending {
                sign_in: pending,
                started: now,
            },
        );
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    append_cookie(
        &mut response,
        set_cookie(
            SIGN_IN_COOKIE,
            &browser,
            true,
            "Lax",
            SIGN_IN_WINDOW.as_secs() as i64,
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: the provider sent the browser back.
pub(crate) async fn callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match finish(&shared, &headers, query).await {
        Ok(response) => response,
        Err(reason) => {
            audit(
                &shared,
                "anonymous",
                AuditAction::SignInFailed,
                json_reason(&reason),
            )
            .await;
            let mut response =
                Problem::new(StatusCode::UNAUTHORIZED, "sign_in_failed", reason).into_response();
            append_cookie(
                &mut response,
                set_cookie(SIGN_IN_COOKIE, "", true, "Lax", 0),
            );
            response
        }
    }
}

fn json_reason(reason: &str) -> serde_json::Value {
    serde_json::json!({ "reason": reason })
}

async fn finish(
    shared: &Shared,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<Response, String> {
    let sessions = &shared.sessions;
    let sign_in = sessions
        .sign_in
        .as_ref()
        .ok_or("sign-in is not configured")?;
    let browser = cookie(headers, SIGN_IN_COOKIE)
        .ok_or("no sign-in was started in this browser (start again at /auth/login)")?;
    let pending = sessions
        .pending
        .lock()
        .await
        .remove(&key(browser))
        .ok_or("this sign-in expired or was already used (start again at /auth/login)")?;
    if let Some(error) = query.error {
        // The provider's own words, e.g. access_denied: they name no secret.
        return Err(format!(
            "the identity provider answered {error}: {}",
            query.error_description.unwrap_or_default()
        ));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err("the provider's answer has no code or state".into());
    };
    let actor = sign_in
        .finish(&code, &state, pending.sign_in)
        .await
        .map_err(|error| error.to_string())?;
    if actor.roles.is_empty() {
        audit(
            shared,
            &actor.id,
            AuditAction::SignInFailed,
            json_reason("signed in, but in no group that grants a grantflow role"),
        )
        .await;
        return Ok(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} signed in but holds no grantflow role (no mapped Okta group)",
                actor.id
            ),
        )
        .into_response());
    }
    let session = random_token();
    let csrf = random_token();
    let now = shared.service.now();
    let roles: Vec<String> = actor.roles.iter().map(ToString::to_string).collect();
    audit(
        shared,
        &actor.id,
        AuditAction::SignInSucceeded,
        serde_json::json!({ "roles": roles }),
    )
    .await;
    let max_age = sessions.lifetime.num_seconds();
    sessions.live.lock().await.insert(
        key(&session),
        Session {
            actor,
            csrf: csrf.clone(),
            expires: now + sessions.lifetime,
        },
    );
    // People land on the console; programs use API tokens, not this flow.
    let mut response = Redirect::to("/console/").into_response();
    append_cookie(
        &mut response,
        set_cookie(SIGN_IN_COOKIE, "", true, "Lax", 0),
    );
    append_cookie(
        &mut response,
        set_cookie(SESSION_COOKIE, &session, true, "Lax", max_age),
    );
    append_cookie(
        &mut response,
        set_cookie(CSRF_COOKIE, &csrf, false, "Strict", max_age),
    );
    Ok(response)
}

/// `POST /auth/logout`: ends the session (a cross-site form cannot, for
/// want of the CSRF token).
pub(crate) async fn logout(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match end_session(&shared, &headers, None).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// `POST /console/signout`: the console's form, which carries the CSRF
/// token in a field (it works without JavaScript); then a signed-out page.
pub(crate) async fn console_sign_out(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignOutForm>,
) -> Response {
    match end_session(&shared, &headers, form.csrf.as_deref()).await {
        Ok(mut response) => {
            *response.status_mut() = StatusCode::SEE_OTHER;
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/console/signed-out"),
            );
            response
        }
        Err(problem) => problem.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOutForm {
    csrf: Option<String>,
}

/// Ends the request's session when it proves it comes from our pages (the
/// `X-CSRF-Token` header, or `form_csrf` from a form's field).
async fn end_session(
    shared: &Shared,
    headers: &HeaderMap,
    form_csrf: Option<&str>,
) -> Result<Response, Problem> {
    let now = shared.service.now();
    let Some(signed_in) = shared.sessions.resolve(headers, now).await else {
        return Err(Problem::unauthenticated("no session to end"));
    };
    let form_ok = form_csrf.is_some_and(|sent| same(sent, &signed_in.csrf));
    if !signed_in.csrf_ok && !form_ok {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "a signed-in browser's change must carry the X-CSRF-Token header",
        ));
    }
    if let Some(value) = cookie(headers, SESSION_COOKIE) {
        shared.sessions.live.lock().await.remove(&key(value));
    }
    audit(
        shared,
        &signed_in.actor.id,
        AuditAction::SignedOut,
        serde_json::json!({}),
    )
    .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    append_cookie(
        &mut response,
        set_cookie(SESSION_COOKIE, "", true, "Lax", 0),
    );
    append_cookie(
        &mut response,
        set_cookie(CSRF_COOKIE, "", false, "Strict", 0),
    );
    Ok(response)
}

fn append_cookie(response: &mut Response, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn audit(shared: &Shared, actor: &str, action: AuditAction, details: serde_json::Value) {
    if let Err(error) = shared
        .service
        .store
        .audit(actor, action, "sign-in", details)
        .await
    {
        tracing::error!(message = "Could not audit a sign-in event.", error = %error);
    }
}
