//! Drift: the open findings (access that no policy explains, changes made
//! by hand), by system and kind, with what each opens in production.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use grantflow_service::access::Permission;
use serde::Deserialize;

use super::*;

/// At most this many findings on the page; the API pages through the rest.
const SHOWN: i64 = 500;

#[derive(Debug, Deserialize)]
pub(crate) struct FindingsQuery {
    connection: Option<String>,
    kind: Option<String>,
    /// Set when a check from this page just finished.
    checked: Option<String>,
}

pub(crate) struct FindingRow {
    pub key: String,
    pub connection: String,
    pub kind: String,
    pub details: String,
    /// The finding in a sentence, as the drift check wrote it.
    pub sentence: String,
    pub person: String,
    pub resource: String,
    /// How its policy handles it (`report`, `approval`, `auto`).
    pub mode: String,
    pub first_seen: String,
    pub last_seen: String,
    /// What the finding opens in production, when the graph can say.
    pub reach: String,
}

#[derive(Template)]
#[template(path = "drift.html")]
struct DriftPage {
    layout: Layout,
    connection: String,
    kind: String,
    connections: Vec<String>,
    findings: Vec<FindingRow>,
    more: bool,
    may_check: bool,
    checked: bool,
}

fn filled(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// `GET /console/drift?connection=&kind=`: the open findings.
pub(crate) async fn findings(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(query): Query<FindingsQuery>,
) -> PageResult {
    visitor.authorize(&Permission::ReadDrift)?;
    let connection = filled(query.connection);
    let kind = filled(query.kind);
    let mut found = shared
        .service
        .store
        .open_findings_page(connection.as_deref(), kind.as_deref(), None, SHOWN + 1)
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    let more = found.len() as i64 > SHOWN;
    found.truncate(SHOWN as usize);
    let may_reach = visitor.may(&Permission::ReadReach);
    let mut findings = Vec::with_capacity(found.len());
    for f in found {
        // Reach is a review aid: a finding the graph cannot place still shows.
        let reach = if may_reach {
            match shared
                .service
                .reach_of_finding(&visitor.actor, &f.key)
                .await
            {
                Ok(reach) => serde_json::to_string_pretty(&reach).unwrap_or_default(),
                Err(_) => String::new(),
            }
        } else {
            String::new()
        };
        let text = |key: &str| f.details[key].as_str().unwrap_or_default().to_string();
        findings.push(FindingRow {
            sentence: text("detail"),
            person: text("person"),
            resource: text("resource"),
            mode: text("mode"),
            details: serde_json::to_string_pretty(&f.details).unwrap_or_default(),
            first_seen: f.first_seen.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            last_seen: f.last_seen.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            key: f.key,
            connection: f.connection,
            kind: f.kind,
            reach,
        });
    }
    render(&DriftPage {
        layout: Layout::new(&visitor, "Drift", "/console/drift"),
        connection: connection.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        connections: shared
            .service
            .connectors
            .keys()
            .map(ToString::to_string)
            .collect(),
        findings,
        more,
        may_check: visitor.may(&Permission::CheckDrift),
        checked: query.checked.is_some(),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct CheckForm {
    csrf: Option<String>,
}

/// `POST /console/drift/check`: checks drift now against the policies, as
/// the schedule does after a sync (which may remediate `auto` policies).
pub(crate) async fn check(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: axum::http::HeaderMap,
    form: Result<axum::Form<CheckForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let axum::Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    visitor.authorize(&Permission::CheckDrift)?;
    // One at a time with syncs and the schedule's checks, which record findings too.
    let _one_at_a_time = shared.syncing.lock().await;
    let service = &shared.service;
    let checked = service.check_drift(&service.config.policies, 8).await?;
    crate::schedule::count_drift_check(&shared, &checked);
    see_other("/console/drift?checked=now")
}
