//! `grantflow request …`: ask for access or an action, list, show, approve
//! or deny requests — against the local store (as its operator) or a
//! server's API (`--server`, as the token's person). The rules are the
//! service's; this renders them.

use std::process::ExitCode;

use grantflow_service::Service;
use grantflow_service::requests::{Asked, NewRequest, Verdict};
use serde_json::Value;

use crate::app::actor;

/// What is asked, as the command line says it.
pub struct Ask {
    pub text: Option<String>,
    pub bundle: Option<String>,
    pub action: Option<String>,
    pub who: Option<String>,
    pub connection: Option<String>,
    pub for_person: Option<String>,
    pub reason: String,
    pub duration: Option<String>,
    pub ticket: Option<String>,
    pub break_glass: bool,
}

impl Ask {
    /// The API's body for this request.
    fn body(&self) -> anyhow::Result<Value> {
        let mut body = serde_json::json!({
            "reason": self.reason,
            "for": self.for_person,
            "duration": self.duration,
            "ticket": self.ticket,
            "break_glass": self.break_glass,
        });
        match (&self.text, &self.bundle, &self.action) {
            (Some(text), None, None) => body["request"] = text.clone().into(),
            (None, Some(bundle), None) => body["bundle"] = bundle.clone().into(),
            (None, None, Some(verb)) => {
                body["action"] = serde_json::json!({
                    "connection": self.connection.clone().unwrap_or_else(|| "okta".into()),
                    "verb": verb,
                    "who": self.who.clone().ok_or_else(|| anyhow::anyhow!("--action needs --who"))?,
                })
            }
            _ => anyhow::bail!(
                "say what you ask for: a change in words, --bundle NAME, or --action VERB --who WHO"
            ),
        }
        Ok(body)
    }

    fn asked(&self) -> anyhow::Result<Asked> {
        Ok(match (&self.text, &self.bundle, &self.action) {
            (Some(text), None, None) => Asked::Change { text: text.clone() },
            (None, Some(name), None) => Asked::Bundle { name: name.clone() },
            (None, None, Some(verb)) => Asked::Action(grantflow_service::ActionRequest {
                connection: self.connection.clone().unwrap_or_else(|| "okta".into()),
                verb: verb.clone(),
                who: self
                    .who
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("--action needs --who"))?,
                ..Default::default()
            }),
            _ => anyhow::bail!(
                "say what you ask for: a change in words, --bundle NAME, or --action VERB --who WHO"
            ),
        })
    }
}

fn to_value<T: serde::Serialize>(view: &T) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// One request, as people read it.
fn render(request: &Value, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(request).unwrap_or_default()
        );
        return;
    }
    let text = |key: &str| request[key].as_str().unwrap_or_default().to_string();
    println!(
        "request {} — {} ({})",
        text("id"),
        text("summary"),
        text("state")
    );
    println!(
        "  for {}, asked by {}: {}",
        text("subject"),
        text("requester"),
        text("reason")
    );
    if let Some(seconds) = request["duration_seconds"].as_u64() {
        println!("  for {} min", seconds / 60);
    }
    if let Some(at) = request["expires_at"].as_str() {
        println!("  ends at {at}");
    }
    println!("  rule: {}", text("rule"));
    for (index, stage) in request["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut reviewers: Vec<String> = stage["reviewers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        if stage["approvers"] == true {
            reviewers.push("grantflow approvers".into());
        }
        let decisions: Vec<String> = stage["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} {}",
                    d["reviewer"].as_str().unwrap_or_default(),
                    d["decision"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let current = request["stage"].as_u64() == Some(index as u64);
        println!(
            "  {} stage {}: {} — {} of {} ({}){}",
            if current { "→" } else { " " },
            index + 1,
            stage["name"].as_str().unwrap_or_default(),
            decisions.len(),
            stage["need"],
            reviewers.join(", "),
            if decisions.is_empty() {
                String::new()
            } else {
                format!("; {}", decisions.join(", "))
            }
        );
    }
    if request["review"]["reaches_production"] == true {
        println!("  reaches production: yes (see `--json` for the paths)");
    }
    for conflict in request["review"]["conflicts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "  separation of duties: {}{}",
            conflict["name"].as_str().unwrap_or_default(),
            if conflict["blocking"] == true {
                " (blocking)"
            } else {
                ""
            }
        );
    }
    if let Some(plan) = request["plan_id"].as_str() {
        println!("  plan: {plan}");
    }
    for event in request["events"].as_array().into_iter().flatten() {
        println!(
            "    {} {} by {}",
            event["at"].as_str().unwrap_or_default(),
            event["action"].as_str().unwrap_or_default(),
            event["actor"].as_str().unwrap_or_default()
        );
    }
}

fn render_list(items: &[Value], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(items).unwrap_or_default()
        );
        return;
    }
    if items.is_empty() {
        println!("no requests");
    }
    for item in items {
        println!(
            "{}  {:<8} {}  for {}{}",
            item["id"].as_str().unwrap_or_default(),
            item["state"].as_str().unwrap_or_default(),
            item["summary"].as_str().unwrap_or_default(),
            item["subject"].as_str().unwrap_or_default(),
            if item["can_review"] == true {
                "  (yours to review)"
            } else {
                ""
            }
        );
    }
}

pub async fn ask(service: &Service, ask: &Ask, json: bool) -> anyhow::Result<ExitCode> {
    let duration = ask
        .duration
        .as_deref()
        .map(grantflow_service::tokens::parse_lifetime)
        .transpose()?;
    let view = service
        .submit_request(
            &actor(),
            &NewRequest {
                asked: ask.asked()?,
                for_person: ask.for_person.clone(),
                reason: ask.reason.clone(),
                duration,
                ticket: ask.ticket.clone(),
                break_glass: ask.break_glass,
            },
        )
        .await?;
    settle_locally(service).await?;
    render(
        &to_value(&service.request_view(&actor(), &view.id).await?),
        json,
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs what an approval queued (the local store has no server to run it).
async fn settle_locally(service: &Service) -> anyhow::Result<()> {
    if service.store.open_jobs().await? > 0 {
        service
            .run_worker(
                &grantflow_service::Actor::system("requests"),
                &grantflow_service::ApplyOptions::default(),
                true,
                std::future::pending::<()>(),
            )
            .await?;
    }
    Ok(())
}

pub async fn list(service: &Service, state: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let views = service.requests_for(&actor(), state, 100).await?;
    let items: Vec<Value> = views.iter().map(to_value).collect();
    render_list(&items, json);
    Ok(ExitCode::SUCCESS)
}

pub async fn show(service: &Service, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let timeline = service.request_timeline(&actor(), id).await?;
    render(&to_value(&timeline), json);
    Ok(ExitCode::SUCCESS)
}

pub async fn decide(
    service: &Service,
    id: &str,
    approve: bool,
    comment: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let verdict = if approve {
        Verdict::Approve
    } else {
        Verdict::Deny
    };
    service
        .review_request(&actor(), id, verdict, comment, "cli")
        .await?;
    settle_locally(service).await?;
    render(&to_value(&service.request_view(&actor(), id).await?), json);
    Ok(ExitCode::SUCCESS)
}

/// The same through a server's API (`/api/v1/requests`), as the token's person.
pub mod remote {
    use super::*;
    use crate::remote::Remote;

    #[derive(serde::Deserialize)]
    struct Listed {
        items: Vec<Value>,
    }

    pub async fn ask(remote: &Remote, ask: &Ask, json: bool) -> anyhow::Result<ExitCode> {
        let request: Value = remote.post(&["requests"], Some(&ask.body()?)).await?;
        render(&request, json);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn list(
        remote: &Remote,
        state: Option<&str>,
        json: bool,
    ) -> anyhow::Result<ExitCode> {
        let query: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
        let listed: Listed = remote.get(&["requests"], &query).await?;
        render_list(&listed.items, json);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn show(remote: &Remote, id: &str, json: bool) -> anyhow::Result<ExitCode> {
        let request: Value = remote.get(&["requests", id], &[]).await?;
        render(&request, json);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn decide(
        remote: &Remote,
        id: &str,
        approve: bool,
        comment: &str,
        json: bool,
    ) -> anyhow::Result<ExitCode> {
        let verdict = if approve { "approve" } else { "deny" };
        let body = serde_json::json!({ "comment": comment });
        let request: Value = remote.post(&["requests", id, verdict], Some(&body)).await?;
        render(&request, json);
        Ok(ExitCode::SUCCESS)
    }
}
