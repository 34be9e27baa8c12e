//! People: a search, and one person's accounts in every system with what
//! each holds and where it comes from, and a request made for them.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use grantflow_service::ActionRequest;
use grantflow_service::access::Permission;
use grantflow_service::requests::{Asked, NewRequest};
use grantflow_service::views::{PersonAccess, PersonSummary};
use serde::Deserialize;

use super::*;

/// At most this many people per search: a search narrows, it does not page.
const SHOWN: usize = 50;

#[derive(Debug, Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

pub(crate) struct Row {
    pub person: PersonSummary,
    pub href: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    layout: Layout,
    q: String,
    rows: Vec<Row>,
    more: bool,
}

#[derive(Template)]
#[template(path = "people_results.html")]
struct PeopleResults {
    q: String,
    rows: Vec<Row>,
    more: bool,
}

/// `GET /console/people?q=`: the directory's people whose email, login or
/// name contains `q`; the results alone for htmx's search-as-you-type.
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> PageResult {
    visitor.authorize(&Permission::ReadPeople)?;
    let q = query.q.unwrap_or_default().trim().to_string();
    let (page, more) = shared
        .service
        .people_page((!q.is_empty()).then_some(q.as_str()), None, SHOWN)
        .await?;
    let rows = page
        .into_iter()
        .map(|person| Row {
            href: format!("/console/people/{}", segment(&person.email)),
            person,
        })
        .collect();
    if wants_fragment(&headers) {
        return render(&PeopleResults { q, rows, more });
    }
    render(&PeoplePage {
        layout: Layout::new(&visitor, "People", "/console/people"),
        q,
        rows,
        more,
    })
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    layout: Layout,
    access: PersonAccess,
    email_segment: String,
    hris: Vec<(String, String)>,
    /// The person's requests the caller may see, newest first.
    requests: Vec<super::requests::Row>,
    actions: [(&'static str, &'static str); 4],
}

/// `GET /console/people/{email}`: the person, their HR facts, each account
/// with its state and every grant with its source, and their requests.
pub(crate) async fn person(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Path(email): Path<String>,
) -> PageResult {
    visitor.authorize(&Permission::ReadPeople)?;
    let access = shared.service.person(&email).await?;
    let hris = access
        .hris
        .iter()
        .flatten()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key.clone(), value)
        })
        .collect();
    let requests = shared
        .service
        .requests_for(&visitor.actor, None, 200)
        .await?
        .into_iter()
        .filter(|r| r.subject.eq_ignore_ascii_case(&access.person.email))
        .map(|view| super::requests::Row::new(&visitor, view))
        .collect();
    render(&PersonPage {
        layout: Layout::new(
            &visitor,
            access.person.display_name.clone(),
            "/console/people",
        ),
        email_segment: segment(&access.person.email),
        access,
        hris,
        requests,
        actions: ACTIONS,
    })
}

/// A request in words, as the forms send it.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestForm {
    pub csrf: Option<String>,
    /// A grant in words (`add … to the … group`).
    pub request: Option<String>,
    /// A bundle declared in policy, instead of words.
    pub bundle: Option<String>,
    pub reason: Option<String>,
    /// `8h`, `2d`: time-bound access.
    pub duration: Option<String>,
    pub ticket: Option<String>,
    /// Who it is for (an email); the requester when empty.
    pub for_person: Option<String>,
}

fn filled(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

impl RequestForm {
    /// The request as the service takes it.
    pub fn into_request(self, for_person: Option<String>) -> Result<NewRequest, PageError> {
        let asked = match (filled(self.request), filled(self.bundle)) {
            (Some(text), None) => Asked::Change { text },
            (None, Some(name)) => Asked::Bundle { name },
            _ => {
                return Err(PageError::invalid(
                    "say what you ask for: a change in words or a bundle (one of them)",
                ));
            }
        };
        let duration = filled(self.duration)
            .as_deref()
            .map(grantflow_service::tokens::parse_lifetime)
            .transpose()?;
        Ok(NewRequest {
            asked,
            for_person: for_person.or_else(|| filled(self.for_person)),
            reason: filled(self.reason).unwrap_or_default(),
            duration,
            ticket: filled(self.ticket),
            break_glass: false,
        })
    }
}

/// `POST /console/people/{email}/request`: a request for this person; on
/// to the request's page.
pub(crate) async fn request(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(email): Path<String>,
    form: Result<Form<RequestForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    let new = form.into_request(Some(email))?;
    let view = shared.service.submit_request(&visitor.actor, &new).await?;
    see_other(&format!("/console/requests/{}", segment(&view.id)))
}

/// An account action asked from the person page.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    csrf: Option<String>,
    connection: String,
    /// The account's login in that system.
    who: String,
    verb: String,
    reason: Option<String>,
}

/// The account actions the person page offers; the connector refuses
/// (through the service) one its system does not have.
pub(crate) const ACTIONS: [(&str, &str); 4] = [
    ("suspend", "Suspend"),
    ("unsuspend", "Unsuspend"),
    ("unlock", "Unlock"),
    ("reset_mfa", "Reset MFA"),
];

/// `POST /console/people/{email}/action`: a request for an account action
/// (suspend, unlock, reset MFA…), reviewed under its approval rule like
/// any request; on to the request's page.
pub(crate) async fn action(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(email): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    if !ACTIONS.iter().any(|(verb, _)| *verb == form.verb) {
        return Err(PageError::invalid(format!(
            "\"{}\" is not an action this page offers",
            form.verb
        )));
    }
    let new = NewRequest {
        asked: Asked::Action(ActionRequest {
            connection: form.connection,
            verb: form.verb,
            who: form.who,
            ..ActionRequest::default()
        }),
        for_person: Some(email),
        reason: filled(form.reason).unwrap_or_default(),
        duration: None,
        ticket: None,
        break_glass: false,
    };
    let view = shared.service.submit_request(&visitor.actor, &new).await?;
    see_other(&format!("/console/requests/{}", segment(&view.id)))
}
