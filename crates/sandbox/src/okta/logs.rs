//! `GET /api/v1/logs`: System Log queries with polling (always a `next` link) and bounded (since+until) semantics.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::context::Ctx;
use super::errors::{OktaError, OktaResult};
use super::filter;
use super::pagination::list_response;
use super::state::{LogRecord, Okta};

fn parse_time(ctx: &Ctx, name: &str) -> OktaResult<Option<DateTime<Utc>>> {
    match ctx.param(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                OktaError::validation(
                    name,
                    vec![format!("{name}: The date format is invalid; use ISO 8601, e.g. 2017-05-03T16:22:18Z")],
                )
            }),
    }
}

/// Cursors look like Okta's (`<published millis>_<sequence>`); only the sequence is used.
fn cursor(r: &LogRecord) -> String {
    format!("{}_{}", r.published.timestamp_millis(), r.seq)
}

/// Okta keeps System Log events for 90 days; a cursor from before that cannot resume.
const RETENTION_DAYS: i64 = 90;

fn parse_cursor(s: &str, now: DateTime<Utc>) -> OktaResult<u64> {
    let (millis, seq) = s
        .split_once('_')
        .and_then(|(m, n)| Some((m.parse::<i64>().ok()?, n.parse::<u64>().ok()?)))
        .ok_or_else(|| OktaError::log_param("after"))?;
    if millis < (now - Duration::days(RETENTION_DAYS)).timestamp_millis() {
        return Err(OktaError::log_param(
            "after: the cursor is older than the System Log's retention",
        ));
    }
    Ok(seq)
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let limit = ctx.limit(100, 1000)?;
    let until = parse_time(&ctx, "until")?;
    let since = parse_time(&ctx, "since")?;
    let after = ctx
        .param("after")
        .filter(|a| !a.is_empty())
        .map(|a| parse_cursor(a, ctx.now))
        .transpose()?;
    let descending = match ctx.param("sortOrder") {
        None | Some("") | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => {
            return Err(OktaError::log_param(
                "sortOrder must be ASCENDING or DESCENDING",
            ));
        }
    };
    if since.is_some_and(|s| s < ctx.now - Duration::days(180)) {
        return Err(OktaError::log_param(
            "The since parameter is over 180 days prior to the current day.",
        ));
    }
    let expr = match ctx.param("filter").filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => {
            let e = filter::parse(f).map_err(|e| OktaError::log_param(&format!("filter: {e}")))?;
            if !e.check(&|attr, _| attr != "published") {
                return Err(OktaError::log_param(
                    "filter: published can't be used in a filter",
                ));
            }
            Some(e)
        }
    };
    let q: Vec<String> = ctx
        .param("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let polling = until.is_none() && !descending;
    let until = until.unwrap_or(ctx.now);
    // A polling cursor is itself the lower bound: the default 7-day window only bounds a query
    // without one, so a poller resuming a cursor days old still reads every event after it.
    let since = match (since, after) {
        (Some(since), _) => since,
        (None, Some(_)) => DateTime::<Utc>::MIN_UTC,
        (None, None) => until - Duration::days(7),
    };
    let inner = o.core.state();
    let mut matching: Vec<&LogRecord> = inner
        .logs
        .iter()
        .filter(|r| r.published >= since)
        .filter(|r| match after {
            Some(a) if descending => r.seq < a,
            Some(a) => r.seq > a,
            None => true,
        })
        .filter(|r| r.published <= until || polling)
        .filter(|r| expr.as_ref().is_none_or(|e| e.matches(&r.event)))
        .filter(|r| {
            q.is_empty() || {
                let text = r.event.to_string().to_lowercase();
                q.iter().all(|k| text.contains(k))
            }
        })
        .collect();
    if descending {
        matching.reverse();
    }
    let more = matching.len() > limit;
    matching.truncate(limit);
    let next = if polling {
        // Polling always links onward, even from an empty page, so a poller can resume from here.
        Some(match matching.last() {
            Some(r) => cursor(r),
            None => match after {
                Some(a) => format!("{}_{a}", ctx.now.timestamp_millis()),
                None => format!("{}_{}", ctx.now.timestamp_millis(), inner.log_seq),
            },
        })
    } else if more {
        matching.last().map(|r| cursor(r))
    } else {
        None
    };
    let items: Vec<Value> = matching.into_iter().map(|r| r.event.clone()).collect();
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}
