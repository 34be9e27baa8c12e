//! Requests: the reviewer's inbox (with the reach review, the separation
//! of duties verdict and Approve / Deny), the caller's own requests, a new
//! request, and one request with its stages and timeline. Who may see and
//! review what is the service's rule (`requests_for`, `review_request`).

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use grantflow_service::requests::{RequestView, Verdict};
use serde::Deserialize;

use super::people::RequestForm;
use super::*;

/// A request as a list shows it.
pub(crate) struct Row {
    pub view: RequestView,
    pub href: String,
    pub review: Review,
}

/// What a reviewer weighs, taken out of the request's `review`.
pub(crate) struct Review {
    pub reaches_production: Option<bool>,
    /// Separation-of-duties rules the request would satisfy.
    pub conflicts: Vec<Conflict>,
    pub notes: Vec<String>,
    /// The production reach, as the service describes it.
    pub reach: String,
}

pub(crate) struct Conflict {
    pub name: String,
    pub description: String,
    pub blocking: bool,
    pub already: bool,
}

impl Review {
    fn of(review: &serde_json::Value) -> Self {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        Self {
            reaches_production: review["reaches_production"].as_bool(),
            conflicts: review["conflicts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| Conflict {
                    name: text(&c["name"]),
                    description: text(&c["description"]),
                    blocking: c["blocking"].as_bool().unwrap_or(false),
                    already: c["already"].as_bool().unwrap_or(false),
                })
                .collect(),
            notes: review["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect(),
            reach: match &review["reach"] {
                serde_json::Value::Null => String::new(),
                reach => serde_json::to_string_pretty(reach).unwrap_or_default(),
            },
        }
    }
}

impl Row {
    pub fn new(_visitor: &Visitor, view: RequestView) -> Self {
        Self {
            href: format!("/console/requests/{}", segment(&view.id)),
            review: Review::of(&view.review),
            view,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct InboxQuery {
    state: Option<String>,
}

/// A request's states, as the filter offers them.
const STATES: [&str; 7] = [
    "pending", "approved", "active", "done", "ended", "denied", "expired",
];

pub(crate) struct StateOption {
    pub name: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct InboxPage {
    layout: Layout,
    state: String,
    states: Vec<StateOption>,
    /// Waiting for the caller's review.
    waiting: Vec<Row>,
    /// Asked by the caller, or for them.
    mine: Vec<Row>,
    /// The rest the caller may see (administrators and auditors see all).
    others: Vec<Row>,
}

/// `GET /console/requests?state=`: the inbox, the caller's own requests,
/// and a form for a new one.
pub(crate) async fn inbox(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(query): Query<InboxQuery>,
) -> PageResult {
    let state = query
        .state
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let views = shared
        .service
        .requests_for(&visitor.actor, state.as_deref(), 200)
        .await?;
    let (mut waiting, mut mine, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for view in views {
        let own = view.requester == visitor.actor.id || visitor.actor.is_person(&view.subject);
        let row = Row::new(&visitor, view);
        if row.view.can_review {
            waiting.push(row);
        } else if own {
            mine.push(row);
        } else {
            others.push(row);
        }
    }
    let state = state.unwrap_or_default();
    render(&InboxPage {
        layout: Layout::new(&visitor, "Requests", "/console/requests"),
        states: STATES
            .iter()
            .map(|name| StateOption {
                name,
                selected: *name == state,
            })
            .collect(),
        state,
        waiting,
        mine,
        others,
    })
}

/// `POST /console/requests`: the caller asks (for themselves unless the
/// form names someone).
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<RequestForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    let new = form.into_request(None)?;
    let view = shared.service.submit_request(&visitor.actor, &new).await?;
    see_other(&format!("/console/requests/{}", segment(&view.id)))
}

/// One line of a request's timeline.
pub(crate) struct Event {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    layout: Layout,
    row: Row,
    asked: String,
    events: Vec<Event>,
}

/// `GET /console/requests/{id}`: the request, its review, its stages and
/// decisions, and everything that happened to it.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> PageResult {
    let timeline = shared.service.request_timeline(&visitor.actor, &id).await?;
    let events = timeline
        .events
        .iter()
        .map(|e| Event {
            at: e.at.clone(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            details: if e.details.as_object().is_some_and(|o| o.is_empty()) {
                String::new()
            } else {
                e.details.to_string()
            },
        })
        .collect();
    let asked = serde_json::to_string_pretty(&timeline.request.asked).unwrap_or_default();
    render(&RequestPage {
        layout: Layout::new(
            &visitor,
            format!("Request {}", timeline.request.id),
            "/console/requests",
        ),
        row: Row::new(&visitor, timeline.request),
        asked,
        events,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    csrf: Option<String>,
    comment: Option<String>,
}

async fn decide(
    shared: &Shared,
    visitor: &Visitor,
    headers: &HeaderMap,
    id: &str,
    verdict: Verdict,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(headers, form.csrf.as_deref())?;
    let comment = form.comment.unwrap_or_default();
    shared
        .service
        .review_request(&visitor.actor, id, verdict, comment.trim(), "console")
        .await?;
    see_other(&format!("/console/requests/{}", segment(id)))
}

/// `POST /console/requests/{id}/approve`.
pub(crate) async fn approve(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> PageResult {
    decide(&shared, &visitor, &headers, &id, Verdict::Approve, form).await
}

/// `POST /console/requests/{id}/deny`.
pub(crate) async fn deny(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> PageResult {
    decide(&shared, &visitor, &headers, &id, Verdict::Deny, form).await
}
