//! The audit trail of a set of plans as a story a person reads top to bottom: one line per step,
//! with its time, its system, what it did and how it ended (done, found already done, retrying and
//! when, waiting and for what, failed with the vendor's code). Read from the hash-chained audit
//! events, not from memory, so what it shows is what an auditor would find.

use std::collections::{BTreeMap, BTreeSet};

use grantflow_model::Plan;
use grantflow_service::Service;
use grantflow_store::AuditEvent;

/// Every line of the plans' timeline, in the audit chain's order.
pub async fn lines(service: &Service, plan_ids: &[String]) -> anyhow::Result<Vec<String>> {
    let mut plans: BTreeMap<&str, Plan> = BTreeMap::new();
    for id in plan_ids {
        plans.insert(id.as_str(), service.store.plan(id).await?);
    }
    let mut out = Vec::new();
    let mut plan_lines = BTreeSet::new();
    for event in service.store.audit_events().await? {
        let (plan_id, op) = match event.subject.split_once("/op") {
            Some((plan, op)) => (plan, op.parse::<u32>().ok()),
            None => (event.subject.as_str(), None),
        };
        let Some(plan) = plans.get(plan_id) else {
            continue;
        };
        let Some(line) = line(&event, plan, op) else {
            continue;
        };
        // The gate records the leaver allowance each time a plan passes it (queued, then run): one
        // line tells it.
        if op.is_none() && !plan_lines.insert(line.clone()) {
            continue;
        }
        out.push(format!("{}  {line}", when(&event.at)));
    }
    Ok(out)
}

/// `2026-12-05T09:00:03.123Z` → `2026-12-05 09:00:03`.
fn when(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| at.to_string())
}

fn text<'e>(event: &'e AuditEvent, key: &str) -> &'e str {
    event
        .details
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// One event's line; `None` for bookkeeping a reader does not need (a first attempt, a queueing).
fn line(event: &AuditEvent, plan: &Plan, op: Option<u32>) -> Option<String> {
    let Some(op_id) = op else {
        return match event.action.as_str() {
            "plan.created" => Some(format!(
                "{:<10} plan {}: {} change(s) ({})",
                "grantflow",
                short(&plan.id),
                plan.operations.len(),
                plan.origin
            )),
            "plan.leaver_allowed" => Some(format!(
                "{:<10} plan {}: the leaver allowance lets its retirements past the safety rail",
                "grantflow",
                short(&plan.id)
            )),
            "plan.finished" => Some(format!(
                "{:<10} plan {}: finished",
                "grantflow",
                short(&plan.id)
            )),
            _ => None,
        };
    };
    let operation = plan.operations.iter().find(|o| o.id.0 == op_id)?;
    let system = operation.connection.as_str();
    let change = operation.describe();
    let change = change
        .strip_prefix(&format!("+ {system} "))
        .or_else(|| change.strip_prefix(&format!("- {system} ")))
        .or_else(|| change.strip_prefix("+ "))
        .or_else(|| change.strip_prefix("- "))
        .or_else(|| change.strip_prefix("~ "))
        .unwrap_or(&change)
        .to_string();
    // Without its sign a grant line would not say which way it went.
    let change = match operation.kind {
        grantflow_model::OpKind::AddGrant { .. } => format!("grant {change}"),
        grantflow_model::OpKind::RemoveGrant { .. } => format!("revoke {change}"),
        _ => change,
    };
    let outcome = match event.action.as_str() {
        "operation.attempt" => {
            let attempt = event
                .details
                .get("attempt")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
            if attempt < 2 {
                return None;
            }
            format!("↻ attempt {attempt} (checked first: not in effect yet, so sent again)")
        }
        "operation.succeeded" => match text(event, "outcome") {
            "already_present" => {
                "✓ done (found already in effect: an earlier attempt had made it)".to_string()
            }
            _ => "✓ done".to_string(),
        },
        "operation.retry_scheduled" => {
            let code = text(event, "vendor_code");
            let code = if code.is_empty() || code == text(event, "kind") {
                String::new()
            } else {
                format!("{code} ")
            };
            let wait_ms = event
                .details
                .get("wait_ms")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            format!(
                "⚠ {code}{} → retry in {:.1} s",
                text(event, "message"),
                wait_ms as f64 / 1000.0
            )
        }
        "operation.waiting" => format!(
            "⏸ waiting: {} (checked again at {})",
            text(event, "reason"),
            when(text(event, "recheck_at"))
        ),
        "operation.failed" => format!(
            "✗ failed: {} {}",
            text(event, "vendor_code"),
            text(event, "message")
        ),
        "operation.skipped" => format!("– skipped: {}", text(event, "reason")),
        _ => return None,
    };
    Some(format!("{system:<10} {change} — {outcome}"))
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn times_read_as_a_log() {
        assert_eq!(when("2026-12-05T09:00:03.123Z"), "2026-12-05 09:00:03");
        assert_eq!(when("not a time"), "not a time");
    }
}
