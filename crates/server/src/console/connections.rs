//! Connections: each system's health, its last sync, its rate-limit budget per bucket and a Sync now
//! button.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use grantflow_service::access::Permission;
use grantflow_service::views::RateBudgetView;
use serde::Deserialize;

use super::*;

pub(crate) struct ConnectionRow {
    pub name: String,
    pub system: String,
    pub status: String,
    pub last_sync: String,
    pub counts: String,
    pub failure: String,
    pub health: String,
    pub budgets: Vec<BudgetRow>,
    pub may_sync: bool,
    pub sync_href: String,
}

/// One rate-limit bucket, in words.
pub(crate) struct BudgetRow {
    pub bucket: String,
    pub figures: String,
    /// Spent (nothing left beyond the reserve) or held by a 429: calls wait for the reset.
    pub spent: bool,
}

impl BudgetRow {
    fn of(budget: RateBudgetView) -> Self {
        let time = |at: chrono::DateTime<chrono::Utc>| at.format("%H:%M:%S UTC").to_string();
        let mut figures = match (budget.limit, budget.remaining) {
            (Some(limit), Some(remaining)) => {
                let mut text = format!("{remaining} of {limit} left");
                if let Some(reset) = budget.reset {
                    text.push_str(&format!(", resets {}", time(reset)));
                }
                if budget.reserved > 0 {
                    text.push_str(&format!("; {} kept for others", budget.reserved));
                }
                if budget.documented {
                    text.push_str(" (documented budget, counted here)");
                }
                text
            }
            _ => "no budget announced".to_string(),
        };
        if let Some(until) = budget.held_until {
            figures.push_str(&format!("; refused (429) until {}", time(until)));
        }
        if budget.in_flight > 0 {
            figures.push_str(&format!("; {} in flight", budget.in_flight));
        }
        BudgetRow {
            spent: budget.held_until.is_some()
                || budget
                    .remaining
                    .is_some_and(|remaining| remaining <= budget.reserved),
            bucket: budget.bucket,
            figures,
        }
    }
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    layout: Layout,
    synced: String,
    connections: Vec<ConnectionRow>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// The connection a sync from this page just finished.
    synced: Option<String>,
}

/// `GET /console/connections`: each connection, checked now.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(query): Query<ListQuery>,
) -> PageResult {
    visitor.authorize(&Permission::ReadConnections)?;
    let health = shared.service.check_health().await;
    let connections = shared
        .service
        .connections()
        .await?
        .into_iter()
        .map(|c| {
            let checked = health
                .connections
                .iter()
                .find(|h| h.connection.as_str() == c.name);
            ConnectionRow {
                may_sync: visitor.may(&Permission::Sync(&c.name)),
                sync_href: format!("/console/connections/{}/sync", segment(&c.name)),
                last_sync: c
                    .last_sync
                    .as_ref()
                    .map(|s| s.finished_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "never".into()),
                counts: c
                    .last_sync
                    .as_ref()
                    .map(|s| {
                        format!(
                            "{} accounts, {} resources, {} grants",
                            s.accounts, s.resources, s.grants
                        )
                    })
                    .unwrap_or_default(),
                failure: c
                    .last_failure
                    .as_ref()
                    .map(|f| format!("{}: {}", f.at, f.message))
                    .unwrap_or_default(),
                health: match checked.and_then(|h| h.failure.as_ref()) {
                    None if checked.is_some() => "reachable, authenticated".into(),
                    None => "not checked".into(),
                    Some(failure) => {
                        format!("{} [{}]: {}", failure.kind, failure.code, failure.message)
                    }
                },
                budgets: c.rate_limits.into_iter().map(BudgetRow::of).collect(),
                name: c.name,
                system: c.system,
                status: c.status,
            }
        })
        .collect();
    render(&ConnectionsPage {
        layout: Layout::new(&visitor, "Connections", "/console/connections"),
        synced: query.synced.unwrap_or_default(),
        connections,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SyncForm {
    csrf: Option<String>,
    /// Read everything again rather than the changes since the last sync
    /// (which a vendor's change feed may not carry, e.g. its console's edits).
    full: Option<String>,
}

/// `POST /console/connections/{name}/sync`: syncs it now (one sync at a
/// time, as the schedule's and the API's), then back to the list.
pub(crate) async fn sync(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<SyncForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    visitor.authorize(&Permission::Sync(&name))?;
    let _one_at_a_time = shared.syncing.lock().await;
    shared
        .service
        .sync(
            &visitor.actor,
            Some(&name),
            form.full.is_some_and(|f| f == "true"),
            &grantflow_service::sync::Quiet,
        )
        .await?;
    // Back to the list, saying what was done: the page reads as the sync's answer.
    see_other(&format!("/console/connections?synced={}", segment(&name)))
}
