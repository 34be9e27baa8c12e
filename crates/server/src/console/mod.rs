//! The web console under `/console/`: server-rendered pages (askama
//! templates in `crates/server/templates`) for people signed in through the
//! `sign_in:` provider. htmx (vendored, served from the binary) only
//! improves them: every form posts and redirects without JavaScript, and a
//! request that carries `HX-Request` (and is not a boosted navigation) gets
//! the fragment it asked for instead of the whole page.
//!
//! Like the API, a page parses the request, authorizes through the
//! service's permission table and renders what the service answers; no
//! business rule lives here. A page the caller's roles do not allow is a
//! 403 page, audited like the API's refusals.

mod audit;
mod connections;
mod drift;
mod flows;
mod people;
mod plans;
mod reach;
mod requests;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use grantflow_service::access::{self, Permission};
use grantflow_service::{Actor, ServiceError, tokens};

use crate::Shared;
use crate::problem::{Problem, Refusal};
use crate::session::{CSRF_HEADER, same};

/// htmx 2.0.11 from the npm registry (`htmx.org`), unchanged; its licence
/// (BSD Zero Clause) is served beside it.
const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const HTMX_LICENSE: &str = include_str!("../../static/htmx.LICENSE");
const CSS: &str = include_str!("../../static/console.css");

/// Who is looking at a page, and the CSRF token their forms must carry
/// (`None` for a bearer token, which a browser never sends on its own).
#[derive(Debug, Clone)]
pub(crate) struct Visitor {
    pub actor: Actor,
    csrf: Option<String>,
}

impl Visitor {
    /// Whether a change came from our own pages: the form's hidden `csrf`
    /// field or htmx's `X-CSRF-Token` header matches the session's token.
    fn check_csrf(&self, headers: &HeaderMap, sent: Option<&str>) -> Result<(), PageError> {
        let Some(expected) = &self.csrf else {
            return Ok(());
        };
        let sent = sent.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
        if sent.is_some_and(|sent| same(sent, expected)) {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "this form did not come from a grantflow page (its CSRF token is missing or wrong); reload the page and try again",
            ))
        }
    }

    fn may(&self, permission: &Permission<'_>) -> bool {
        access::allows(&self.actor, permission)
    }

    fn authorize(&self, permission: &Permission<'_>) -> Result<(), PageError> {
        access::authorize(&self.actor, permission).map_err(PageError::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Visitor>().cloned().ok_or_else(|| {
            PageError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
        })
    }
}

/// A page that could not be shown: rendered as HTML with the problem's
/// status, code and detail.
#[derive(Debug)]
pub(crate) struct PageError(Problem);

impl PageError {
    fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self(Problem::new(status, code, detail))
    }

    fn invalid(detail: impl Into<String>) -> Self {
        Self(Problem::invalid(detail))
    }
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        Self(Problem::from(error))
    }
}

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    problem: &'a Problem,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorPage { problem: &self.0 }
            .render()
            .unwrap_or_else(|_| self.0.detail.clone());
        let mut response = (status, Html(body)).into_response();
        response.extensions_mut().insert(Refusal {
            code: self.0.code.clone(),
            detail: self.0.detail.clone(),
        });
        response
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// The rendered template as an HTML answer.
fn render<T: Template>(template: &T) -> PageResult {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|error| PageError(Problem::internal(&error)))
}

/// Whether htmx asked for a fragment (a boosted navigation wants the page).
fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-boosted")
}

/// After a form's change: back to a page (htmx follows it too).
fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// What every page's frame shows: who is signed in, the pages their roles
/// allow, and the CSRF token for its forms.
pub(crate) struct Layout {
    pub title: String,
    pub who: String,
    pub roles: String,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    /// A session (which `Sign out` ends), not a bearer token.
    pub session: bool,
}

pub(crate) struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// Who may open a page: a permission of the service's table, or the rule of the service's flows.
enum Shows {
    Permission(Permission<'static>),
    /// Administrators, auditors and viewers ([`grantflow_service::flow_views::may_read_flows`]).
    Flows,
}

impl Visitor {
    fn may_open(&self, shows: &Shows) -> bool {
        match shows {
            Shows::Permission(permission) => self.may(permission),
            Shows::Flows => grantflow_service::flow_views::may_read_flows(&self.actor),
        }
    }
}

/// The console's pages, each with the permission that shows it.
const PAGES: [(&str, &str, Shows); 8] = [
    (
        "/console/people",
        "People",
        Shows::Permission(Permission::ReadPeople),
    ),
    (
        "/console/requests",
        "Requests",
        Shows::Permission(Permission::ReadSelf),
    ),
    (
        "/console/plans",
        "Plans",
        Shows::Permission(Permission::ReadPlans),
    ),
    (
        "/console/drift",
        "Drift",
        Shows::Permission(Permission::ReadDrift),
    ),
    ("/console/flows", "Workflows", Shows::Flows),
    (
        "/console/reach",
        "Reach",
        Shows::Permission(Permission::ReadReach),
    ),
    (
        "/console/connections",
        "Connections",
        Shows::Permission(Permission::ReadConnections),
    ),
    (
        "/console/audit",
        "Audit",
        Shows::Permission(Permission::ReadAudit),
    ),
];

impl Layout {
    fn new(visitor: &Visitor, title: impl Into<String>, current: &str) -> Self {
        Self {
            title: title.into(),
            who: visitor
                .actor
                .person
                .clone()
                .unwrap_or_else(|| visitor.actor.id.clone()),
            roles: visitor
                .actor
                .roles
                .iter()
                .map(access::role_name)
                .collect::<Vec<_>>()
                .join(", "),
            csrf: visitor.csrf.clone().unwrap_or_default(),
            nav: PAGES
                .iter()
                .filter(|(_, _, shows)| visitor.may_open(shows))
                .map(|(href, label, _)| NavLink {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
            session: visitor.csrf.is_some(),
        }
    }
}

/// The console's routes: the static files, and the pages behind the
/// sign-in gate.
pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let pages = Router::new()
        .route("/console/", get(home))
        .route("/console/people", get(people::search))
        .route("/console/people/{email}", get(people::person))
        .route("/console/people/{email}/request", post(people::request))
        .route("/console/people/{email}/action", post(people::action))
        .route(
            "/console/requests",
            get(requests::inbox).post(requests::create),
        )
        .route("/console/requests/{id}", get(requests::show))
        .route("/console/requests/{id}/approve", post(requests::approve))
        .route("/console/requests/{id}/deny", post(requests::deny))
        .route("/console/plans", get(plans::list))
        .route("/console/plans/{id}", get(plans::show))
        .route("/console/plans/{id}/progress", get(plans::progress))
        .route("/console/plans/{id}/approve", post(plans::approve))
        .route("/console/plans/{id}/apply", post(plans::apply))
        .route("/console/drift", get(drift::findings))
        .route("/console/drift/check", post(drift::check))
        .route("/console/flows", get(flows::list))
        .route("/console/flows/{name}/run", post(flows::run_now))
        .route("/console/flows/runs/{id}", get(flows::run))
        .route("/console/reach", get(reach::explore))
        .route("/console/connections", get(connections::list))
        .route("/console/connections/{name}/sync", post(connections::sync))
        .route("/console/audit", get(audit::events))
        .route("/console/audit/verify", get(audit::verify))
        .route("/console/audit/export", get(audit::export))
        .layer(axum::middleware::from_fn_with_state(shared, gate));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/static/htmx.min.js", get(htmx))
        .route("/console/static/htmx.LICENSE", get(htmx_license))
        .route("/console/static/console.css", get(css))
        .merge(pages)
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOut;

/// `GET /console/signed-out`: where signing out lands.
pub(crate) async fn signed_out() -> PageResult {
    render(&SignedOut)
}

async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX,
    )
        .into_response()
}

async fn htmx_license() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        HTMX_LICENSE,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// `/console/`: the first page the caller's roles allow.
async fn home(visitor: Visitor) -> Response {
    let first = PAGES
        .iter()
        .find(|(_, _, shows)| visitor.may_open(shows))
        .map(|(href, _, _)| *href)
        .unwrap_or("/console/requests");
    Redirect::to(first).into_response()
}

/// Who is asking: a session cookie (the browser) or a bearer token (a
/// program reading the pages); `Ok(None)` for neither.
async fn visitor_of(shared: &Shared, headers: &HeaderMap) -> Result<Option<Visitor>, PageError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = crate::auth::bearer(value).ok_or_else(|| {
            PageError(Problem::unauthenticated(
                "the Authorization header must be `Bearer <token>`",
            ))
        })?;
        return match tokens::authenticate(&shared.service.store, &token).await {
            Ok(Ok(actor)) => Ok(Some(Visitor { actor, csrf: None })),
            Ok(Err(failure)) => Err(PageError(Problem::unauthenticated(failure.to_string()))),
            Err(error) => Err(PageError::from(error)),
        };
    }
    Ok(shared
        .sessions
        .resolve(headers, shared.service.now())
        .await
        .map(|signed_in| Visitor {
            actor: signed_in.actor,
            csrf: Some(signed_in.csrf),
        }))
}

/// Every page's gate: someone not signed in goes to the sign-in; refusals
/// are audited (who, which page, why); pages are never cached or framed.
async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| request.uri().path().to_string())
    );
    let visitor = match visitor_of(&shared, request.headers()).await {
        Ok(Some(visitor)) => Some(visitor),
        Ok(None) if matches!(*request.method(), Method::GET | Method::HEAD) => {
            return Redirect::to("/auth/login").into_response();
        }
        Ok(None) => None,
        Err(refused) => return refused.into_response(),
    };
    let actor = visitor
        .as_ref()
        .map(|v| v.actor.id.clone())
        .unwrap_or_else(|| "anonymous".into());
    let mut response = match visitor {
        Some(visitor) => {
            request.extensions_mut().insert(visitor);
            next.run(request).await
        }
        None => PageError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first (your session may have ended)",
        )
        .into_response(),
    };
    crate::auth::audit_refusal(&shared, &actor, &route, &response, "page").await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
