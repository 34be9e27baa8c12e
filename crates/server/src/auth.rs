//! Who is calling. A layer resolves credentials to an [`Actor`] before any
//! handler runs (today an API token in `Authorization: Bearer`; a session
//! layer for people signed in with OpenID Connect sits beside it and
//! resolves a cookie the same way), and audits every refused call. Handlers
//! take [`Authenticated`], which is that actor or a 401 problem.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use grantflow_service::{Actor, tokens};
use grantflow_store::AuditAction;
use secrecy::SecretString;

use crate::Shared;
use crate::problem::{Problem, Refusal};

/// The caller, authenticated.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| {
                Problem::unauthenticated(
                    "this call needs `Authorization: Bearer <token>` or a signed-in session",
                )
            })
    }
}

/// The token of an `Authorization: Bearer …` header; `None` for any other
/// scheme or an unreadable header.
pub(crate) fn bearer(value: &axum::http::HeaderValue) -> Option<SecretString> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| SecretString::from(token.to_string()))
}

/// Resolves a bearer token to the actor (or answers 401), runs the call,
/// and audits it when it was refused (401 or 403): who, which route, why —
/// never the token.
pub(crate) async fn authenticate(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| request.uri().path().to_string())
    );
    let mut actor_id = None;
    let mut refused = None;
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        match bearer(value) {
            None => {
                refused = Some(Problem::unauthenticated(
                    "the Authorization header must be `Bearer <token>`",
                ))
            }
            Some(token) => match tokens::authenticate(&shared.service.store, &token).await {
                Ok(Ok(actor)) => {
                    actor_id = Some(actor.id.clone());
                    request.extensions_mut().insert(actor);
                }
                Ok(Err(failure)) => refused = Some(Problem::unauthenticated(failure.to_string())),
                Err(error) => refused = Some(Problem::from(error)),
            },
        }
    } else if let Some(signed_in) = shared
        .sessions
        .resolve(request.headers(), shared.service.now())
        .await
    {
        // A browser sends its cookie with any site's form: a change needs
        // the CSRF token only our own pages can read.
        let safe = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        actor_id = Some(signed_in.actor.id.clone());
        if safe || signed_in.csrf_ok {
            request.extensions_mut().insert(signed_in.actor);
        } else {
            refused = Some(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a signed-in browser's change must carry the X-CSRF-Token header",
            ));
        }
    }
    let response = match refused {
        Some(problem) => problem.into_response(),
        None => next.run(request).await,
    };
    let actor = actor_id.unwrap_or_else(|| "anonymous".to_string());
    audit_refusal(&shared, &actor, &route, &response, "call").await;
    response
}

/// Records a 401 or 403 answer as `api.refused` (who, which route, the refusal's code and reason;
/// never a credential). `what` names what was refused in the log line when the audit itself fails.
/// The answer is read before anything is awaited: a response's body may not be shared across threads.
pub(crate) fn audit_refusal(
    shared: &Shared,
    actor: &str,
    route: &str,
    response: &Response,
    what: &'static str,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let status = response.status();
    let refused = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
    let (code, reason) = response
        .extensions()
        .get::<Refusal>()
        .map(|r| (r.code.clone(), r.detail.clone()))
        .unwrap_or_default();
    let details = serde_json::json!({
        "route": route,
        "status": status.as_u16(),
        "code": code,
        "reason": reason,
    });
    let (store, actor, route) = (
        shared.service.store.clone(),
        actor.to_string(),
        route.to_string(),
    );
    async move {
        if !refused {
            return;
        }
        if let Err(error) = store
            .audit(&actor, AuditAction::ApiRefused, &route, details)
            .await
        {
            tracing::error!(message = "Could not audit a refusal.", refused = what, error = %error);
        }
    }
}
