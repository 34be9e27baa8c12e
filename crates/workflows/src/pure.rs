//! The function cards: computed from their inputs alone.

use chrono::{DateTime, Utc};
use grantflow_policy::Condition;
use serde_json::{Map, Value as Json, json};

pub(crate) fn run(card: &str, input: &Json) -> Result<Json, String> {
    let field = |name: &str| input.get(name);
    let text = |name: &str| field(name).and_then(Json::as_str);
    match card {
        "set" => Ok(input.clone()),
        "json.parse" => {
            let source = text("text").ok_or("`text` must be text")?;
            serde_json::from_str::<Json>(source)
                .map(|value| json!({ "value": value }))
                .map_err(|e| format!("`text` is not JSON: {e}"))
        }
        "json.get" => {
            let value = field("value").cloned().unwrap_or_default();
            let path = text("path").ok_or("`path` must be text")?;
            let pointer = if path.starts_with('/') || path.is_empty() {
                path.to_string()
            } else {
                format!(
                    "/{}",
                    path.replace('~', "~0").replace('/', "~1").replace('.', "/")
                )
            };
            Ok(match value.pointer(&pointer) {
                Some(found) => json!({"value": found, "found": true}),
                None => {
                    json!({"value": field("default").cloned().unwrap_or_default(), "found": false})
                }
            })
        }
        "text.template" => {
            let mut out = text("text").ok_or("`text` must be text")?.to_string();
            if let Some(values) = field("values").and_then(Json::as_object) {
                for (name, value) in values {
                    let value = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out = out.replace(&format!("{{{name}}}"), &value);
                }
            }
            Ok(json!({ "text": out }))
        }
        "date.add" => {
            let at = match text("at") {
                Some(at) => DateTime::parse_from_rfc3339(at)
                    .map(|t| t.with_timezone(&Utc))
                    .or_else(|_| {
                        chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d")
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                    })
                    .map_err(|_| format!("`at`: `{at}` is not an RFC 3339 time or a date"))?,
                None => Utc::now(),
            };
            let number = |name: &str| field(name).and_then(Json::as_f64).unwrap_or(0.0);
            let minutes = number("days") * 1440.0 + number("hours") * 60.0 + number("minutes");
            if !minutes.is_finite() || minutes.abs() > 1e9 {
                return Err("the offset is out of range".into());
            }
            #[allow(clippy::cast_possible_truncation)]
            let shifted = at + chrono::Duration::seconds((minutes * 60.0).round() as i64);
            Ok(json!({"at": shifted.to_rfc3339(), "date": shifted.format("%Y-%m-%d").to_string()}))
        }
        "list.filter" => {
            let items = field("items")
                .and_then(Json::as_array)
                .ok_or("`items` must be a list")?;
            let condition = Condition::compile(text("where").ok_or("`where` must be text")?)?;
            let mut kept = Vec::new();
            for item in items {
                let mut scope = Map::new();
                scope.insert("item".into(), item.clone());
                if condition.evaluate_with(&scope)? {
                    kept.push(item.clone());
                }
            }
            let count = kept.len();
            Ok(json!({"items": kept, "count": count}))
        }
        other => Err(format!("`{other}` is not a function card")),
    }
}
