//! Who am I, people, connections (and "sync now"), drift findings, reach.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use grantflow_service::access::{self, Permission};
use grantflow_service::views::ReachQuery;

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

/// The caller and their roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The caller", body = Me)))]
pub(crate) async fn me(Authenticated(actor): Authenticated) -> ApiResult<Json<Me>> {
    access::authorize(&actor, &Permission::ReadSelf)?;
    Ok(Json(Me::from(&actor)))
}

/// The directory's people, by email.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery),
    responses((status = 200, description = "A page of people", body = PeoplePage)))]
pub(crate) async fn people(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<PeopleQuery>,
) -> ApiResult<Json<PeoplePage>> {
    access::authorize(&actor, &Permission::ReadPeople)?;
    let limit = page_limit(query.limit)?;
    let after = decode_cursor("people", query.cursor.as_deref())?;
    let (page, more) = shared
        .service
        .people_page(query.q.as_deref(), after.as_deref(), limit)
        .await?;
    let next_cursor = more
        .then(|| page.last())
        .flatten()
        .map(|p| encode_cursor("people", &p.email.to_lowercase()));
    let items: Vec<Person> = page.into_iter().map(Person::from).collect();
    Ok(Json(PeoplePage { items, next_cursor }))
}

/// One person's accounts and grants in every system.
#[utoipa::path(get, path = "/api/v1/people/{email}", tag = "people",
    params(("email" = String, Path, description = "The person's work email")),
    responses((status = 200, description = "The person and their access", body = PersonAccess)))]
pub(crate) async fn person(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(email): ApiPath<String>,
) -> ApiResult<Json<PersonAccess>> {
    access::authorize(&actor, &Permission::ReadPeople)?;
    Ok(Json(shared.service.person(&email).await?.into()))
}

/// Every connection and its last sync.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    responses((status = 200, description = "The connections", body = Connections)))]
pub(crate) async fn connections(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<Connections>> {
    access::authorize(&actor, &Permission::ReadConnections)?;
    let items = shared
        .service
        .connections()
        .await?
        .into_iter()
        .map(Connection::from)
        .collect();
    Ok(Json(Connections { items }))
}

/// Where each part of the reachability graph comes from (a synced connection or a file) and how old it is.
#[utoipa::path(get, path = "/api/v1/reach/sources", tag = "reach",
    responses((status = 200, description = "The sources", body = ReachSources)))]
pub(crate) async fn reach_sources(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<ReachSources>> {
    let items = shared
        .service
        .reach_sources(&actor)
        .await?
        .into_iter()
        .map(ReachSource::from)
        .collect();
    Ok(Json(ReachSources { items }))
}

/// What changes that already happened opened in production (blast radius): the body is an Okta
/// System Log event, or a list of them as `GET /api/v1/logs` returns.
#[utoipa::path(post, path = "/api/v1/reach/events", tag = "reach",
    request_body(content = SystemLogEvents, description = "An Okta System Log event or a list of them"),
    responses((status = 200, description = "What each opened", body = EventsReach)))]
pub(crate) async fn reach_events(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiJson(events): ApiJson<SystemLogEvents>,
) -> ApiResult<Json<EventsReach>> {
    let reach = shared
        .service
        .reach_of_events(&actor, &events.into())
        .await?;
    Ok(Json(EventsReach {
        items: reach
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect(),
    }))
}

/// What an open drift finding (access held without a policy) opens in production.
#[utoipa::path(get, path = "/api/v1/drift/findings/{key}/reach", tag = "drift",
    params(("key" = String, Path, description = "The finding's key")),
    responses((status = 200, description = "What it opens", body = EventsReach)))]
pub(crate) async fn finding_reach(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<EventsReach>> {
    let reach = shared.service.reach_of_finding(&actor, &key).await?;
    Ok(Json(EventsReach {
        items: serde_json::to_value(&reach).into_iter().collect(),
    }))
}

/// Syncs one connection now (incrementally where it can, unless `full`) and answers when done.
#[utoipa::path(post, path = "/api/v1/connections/{name}/sync", tag = "connections",
    params(("name" = String, Path, description = "The connection"), SyncQuery),
    responses((status = 200, description = "The sync made", body = Synced)))]
pub(crate) async fn sync_connection(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Json<Synced>> {
    access::authorize(&actor, &Permission::Sync(&name))?;
    let _one_at_a_time = shared.syncing.lock().await;
    let done = shared
        .service
        .sync(
            &actor,
            Some(&name),
            query.full,
            &grantflow_service::sync::Quiet,
        )
        .await?;
    let synced = done
        .into_iter()
        .next()
        .ok_or_else(|| Problem::not_found(format!("no connection named \"{name}\"")))?;
    Ok(Json(Synced {
        connection: synced.record.connection,
        sync_id: synced.record.id,
        change_events: synced.incremental,
        accounts: synced.record.accounts,
        resources: synced.record.resources,
        grants: synced.record.grants,
    }))
}

/// Checks drift now against the policies, as the schedule does after a sync: findings are recorded,
/// `auto` policies remediated through the gate, `approval` ones planned for an approver.
#[utoipa::path(post, path = "/api/v1/drift/check", tag = "drift",
    responses((status = 200, description = "What the check found and did", body = DriftChecked)))]
pub(crate) async fn check_drift(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<DriftChecked>> {
    access::authorize(&actor, &Permission::CheckDrift)?;
    // One at a time with syncs and the schedule's checks, which record findings too.
    let _one_at_a_time = shared.syncing.lock().await;
    let service = &shared.service;
    let checked = service.check_drift(&service.config.policies, 8).await?;
    crate::schedule::count_drift_check(&shared, &checked);
    Ok(Json(DriftChecked::from(&checked)))
}

/// Open drift findings, by key.
#[utoipa::path(get, path = "/api/v1/drift/findings", tag = "drift", params(FindingsQuery),
    responses((status = 200, description = "A page of open findings", body = FindingsPage)))]
pub(crate) async fn drift_findings(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<FindingsQuery>,
) -> ApiResult<Json<FindingsPage>> {
    access::authorize(&actor, &Permission::ReadDrift)?;
    let limit = page_limit(query.limit)?;
    let after = decode_cursor("findings", query.cursor.as_deref())?;
    let mut found = shared
        .service
        .store
        .open_findings_page(
            query.connection.as_deref(),
            query.kind.as_deref(),
            after.as_deref(),
            limit as i64 + 1,
        )
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|f| encode_cursor("findings", &f.key))
    } else {
        None
    };
    let items = found
        .into_iter()
        .map(|f| Finding {
            key: f.key,
            connection: f.connection,
            kind: f.kind,
            details: f.details,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
        })
        .collect();
    Ok(Json(FindingsPage { items, next_cursor }))
}

/// What a group, user or app reaches in production, what joining a group
/// adds for a user, or who reaches a service.
#[utoipa::path(get, path = "/api/v1/reach", tag = "reach", params(ReachParams),
    responses((status = 200, description = "The answer", body = ReachAnswer)))]
pub(crate) async fn reach(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(params): ApiQuery<ReachParams>,
) -> ApiResult<Json<ReachAnswer>> {
    access::authorize(&actor, &Permission::ReadReach)?;
    let query = match (params.group, params.user, params.app, params.service) {
        (Some(group), Some(user), None, None) => ReachQuery::Delta { user, group },
        (Some(group), None, None, None) => ReachQuery::Group(group),
        (None, Some(user), None, None) => ReachQuery::User(user),
        (None, None, Some(app), None) => ReachQuery::App(app),
        (None, None, None, Some(service)) => ReachQuery::Service(service),
        _ => {
            return Err(Problem::invalid(
                "ask one question: group, user, app or service (or user and group together)",
            ));
        }
    };
    let Some(answer) = shared.service.reach(&query).await? else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "reachability_not_configured",
            "the configuration has no `reachability:` section",
        ));
    };
    let words = match &query {
        ReachQuery::Group(name) => format!("what group \"{name}\" reaches"),
        ReachQuery::User(login) => format!("what user {login} reaches"),
        ReachQuery::App(label) => format!("what app \"{label}\" reaches"),
        ReachQuery::Delta { user, group } => {
            format!("what adding {user} to group \"{group}\" adds")
        }
        ReachQuery::Service(name) => format!("who reaches service {name}"),
    };
    Ok(Json(match answer {
        grantflow_service::views::ReachAnswer::Report(report) => ReachAnswer {
            query: words,
            report: serde_json::to_value(report).ok(),
            holders: None,
        },
        grantflow_service::views::ReachAnswer::Holders(holders) => ReachAnswer {
            query: words,
            report: None,
            holders: serde_json::to_value(holders).ok(),
        },
    }))
}
