//! The rest of grantflow as a flow's cards see it ([`Host`]): reads of the directory and the last syncs,
//! changes as plans stored and applied through the engine's gate, approvals through the requests' chains,
//! messages through a chat connection or the SMTP server; and [`DryRun`], the same for `flow plan` with nothing stored or applied.

use std::collections::BTreeMap;
use std::time::Duration;

use grantflow_engine::Silent;
use grantflow_model::{AccountRef, ConnectionName, OpKind, Snapshot};
use grantflow_workflows::{CardError, Host, Performed, Prepared};
use serde_json::{Map, Value as Json, json};

use crate::plans::ActionRequest;
use crate::{Actor, ApplyOptions, ApplyOutcome, Role, Service, ServiceError};

fn text<'a>(input: &'a Json, name: &str) -> std::result::Result<&'a str, CardError> {
    input
        .get(name)
        .and_then(Json::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| CardError::new("invalid_input", format!("`{name}` is required text")))
}

fn account_of(
    snapshot: &Snapshot,
    connection: &str,
    who: &str,
) -> std::result::Result<AccountRef, CardError> {
    snapshot
        .account_by_login_or_email(who)
        .or_else(|| snapshot.account(who))
        .map(|a| AccountRef {
            id: a.id.clone(),
            login: a.login.clone(),
        })
        .ok_or_else(|| {
            CardError::new(
                "unknown_account",
                format!("no account `{who}` in {connection}'s last sync"),
            )
            .in_system(connection)
        })
}

fn service_error(error: ServiceError) -> CardError {
    let code = error.code().to_string();
    CardError::new(code, error.to_string())
}

#[async_trait::async_trait]
impl Host for Service {
    async fn read(&self, card: &str, input: &Json) -> std::result::Result<Json, CardError> {
        match card {
            "person.get" => {
                let who = text(input, "who")?;
                let actual = self.actual_state().await.map_err(service_error)?;
                let people = grantflow_planner::directory_people(&actual)
                    .map_err(|e| CardError::new("not_synced", e.to_string()))?;
                let wanted = who.trim().to_lowercase();
                let person = people
                    .iter()
                    .find(|p| p.email.to_lowercase() == wanted || p.login.to_lowercase() == wanted)
                    .ok_or_else(|| {
                        CardError::new("unknown_person", format!("nobody `{who}` in the directory"))
                    })?;
                let mut value = grantflow_policy::person_value(person);
                let accounts = match self.person(&person.email).await {
                    Ok(access) => serde_json::to_value(access.accounts).unwrap_or_default(),
                    Err(_) => json!([]),
                };
                if let Some(map) = value.as_object_mut() {
                    map.insert("profile".into(), Json::Object(person.attributes.clone()));
                    map.insert("accounts".into(), accounts);
                    if !map.contains_key("manager") {
                        map.insert("manager".into(), Json::Null);
                    }
                }
                Ok(value)
            }
            "groups.of" | "group.members" => {
                let connection = text(input, "connection")?;
                let kind = input.get("kind").and_then(Json::as_str).unwrap_or("group");
                let actual = self.actual_state().await.map_err(service_error)?;
                let snapshot = self.snapshot_of(&actual, connection)?;
                if card == "groups.of" {
                    let account = account_of(&snapshot, connection, text(input, "who")?)?;
                    let resources: BTreeMap<&str, &grantflow_model::Resource> = snapshot
                        .resources
                        .iter()
                        .filter(|r| r.kind.as_str() == kind)
                        .map(|r| (r.id.as_str(), r))
                        .collect();
                    let mut groups = Vec::new();
                    let mut names = Vec::new();
                    for grant in snapshot
                        .grants
                        .iter()
                        .filter(|g| g.account_id == account.id)
                    {
                        if let Some(resource) = resources.get(grant.resource_id.as_str()) {
                            names.push(Json::String(resource.name.clone()));
                            groups.push(json!({"id": resource.id, "name": resource.name, "entitlement": grant.entitlement}));
                        }
                    }
                    Ok(json!({"groups": groups, "names": names}))
                } else {
                    let group = text(input, "group")?;
                    let resource = snapshot.resource_by_name(kind, group).ok_or_else(|| {
                        CardError::new(
                            "unknown_resource",
                            format!("no {kind} `{group}` in {connection}'s last sync"),
                        )
                        .in_system(connection)
                    })?;
                    let accounts: BTreeMap<&str, &grantflow_model::Account> = snapshot
                        .accounts
                        .iter()
                        .map(|a| (a.id.as_str(), a))
                        .collect();
                    let mut members = Vec::new();
                    let mut logins = Vec::new();
                    for grant in snapshot
                        .grants
                        .iter()
                        .filter(|g| g.resource_id == resource.id)
                    {
                        if let Some(account) = accounts.get(grant.account_id.as_str()) {
                            logins.push(Json::String(account.login.clone()));
                            members.push(json!({"id": account.id, "login": account.login, "email": account.email, "status": account.status}));
                        }
                    }
                    let count = members.len();
                    Ok(json!({"members": members, "logins": logins, "count": count}))
                }
            }
            other => Err(CardError::new(
                "unknown_card",
                format!("`{other}` is not a read card"),
            )),
        }
    }

    async fn prepare(
        &self,
        actor: &str,
        card: &str,
        input: &Json,
    ) -> std::result::Result<Prepared, CardError> {
        if card == "approval" {
            let request = self.submit_approval(actor, input).await?;
            return Ok(Prepared {
                plan: Some(format!("{APPROVAL_PREFIX}{}", request.id)),
                operations: vec![request.summary],
            });
        }
        let (plan, operations) = self.change_plan(actor, card, input).await?;
        let Some(plan) = plan else {
            return Ok(Prepared {
                plan: None,
                operations,
            });
        };
        self.store
            .save_plan_for_approval(&plan, actor, None)
            .await
            .map_err(|e| CardError::new("store", e.to_string()))?;
        Ok(Prepared {
            plan: Some(plan.id.clone()),
            operations,
        })
    }

    async fn perform(
        &self,
        actor: &str,
        plan_id: &str,
    ) -> std::result::Result<Performed, CardError> {
        match plan_id.strip_prefix(APPROVAL_PREFIX) {
            Some(request) => self.approval_decision(request).await,
            None => self.perform_plan(actor, plan_id).await,
        }
    }

    async fn notify(&self, card: &str, input: &Json) -> std::result::Result<Json, CardError> {
        match card {
            "notify.email" => self.flow_email.send(input).await,
            _ => self.post_notice(input).await,
        }
    }
}

impl Service {
    /// Posts a flow's message through a connection that can chat (Slack); a channel named as people write
    /// it (`#sales-team`) is found in the last sync.
    async fn post_notice(&self, input: &Json) -> std::result::Result<Json, CardError> {
        let connection = ConnectionName::new(text(input, "connection")?);
        let channel = text(input, "channel")?;
        let message = text(input, "text")?;
        let connector = self.connectors.get(&connection).ok_or_else(|| {
            CardError::new("unknown_connection", format!("no connection {connection}"))
        })?;
        let chat = connector.chat().ok_or_else(|| {
            CardError::new("unsupported", format!("{connection} cannot post messages"))
        })?;
        let id = match self.actual_state().await {
            Ok(actual) => actual
                .snapshots
                .get(&connection)
                .and_then(|s| s.resource_by_name("channel", channel.trim_start_matches('#')))
                .map(|r| r.id.clone())
                .unwrap_or_else(|| channel.to_string()),
            Err(_) => channel.to_string(),
        };
        let posted = chat.post(&id, message, &[]).await.map_err(|failure| {
            let mut error =
                CardError::new(failure.code(), failure.message()).in_system(connection.as_str());
            error.retryable = failure.is_transient();
            error
        })?;
        Ok(json!({"channel": posted.channel, "ts": posted.ts}))
    }
}

/// What an approval step records as its effect: the request it submitted.
const APPROVAL_PREFIX: &str = "request:";
/// How often a run waiting for an approval asks again.
const APPROVAL_RECHECK: Duration = Duration::from_secs(2);

impl Service {
    /// An approval card's request, submitted as the flow (an administrator's request, so its rule's
    /// reviewers decide; the flow never approves its own request).
    async fn submit_approval(
        &self,
        actor: &str,
        input: &Json,
    ) -> std::result::Result<crate::requests::RequestView, CardError> {
        use crate::requests::{Asked, NewRequest};
        let asked = if let Some(action) = input.get("action").filter(|a| !a.is_null()) {
            Asked::Action(ActionRequest {
                connection: text(action, "connection")?.to_string(),
                verb: text(action, "verb")?.to_string(),
                who: text(action, "who")?.to_string(),
                app: action.get("app").and_then(Json::as_str).map(str::to_string),
                target_name: None,
                options: action
                    .get("options")
                    .and_then(Json::as_object)
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                format!(
                                    "{k}={}",
                                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        } else if let Some(bundle) = input.get("bundle").and_then(Json::as_str) {
            Asked::Bundle {
                name: bundle.to_string(),
            }
        } else if let Some(change) = input.get("change").and_then(Json::as_str) {
            Asked::Change {
                text: change.to_string(),
            }
        } else {
            return Err(CardError::new(
                "invalid_input",
                "an approval asks for an `action`, a `bundle` or a `change`",
            ));
        };
        let duration = input
            .get("duration")
            .and_then(Json::as_str)
            .map(grantflow_policy::parse_duration)
            .transpose()
            .map_err(|e| CardError::new("invalid_input", e))?;
        let new = NewRequest {
            asked,
            for_person: Some(text(input, "for")?.to_string()),
            reason: text(input, "reason")?.to_string(),
            duration,
            ticket: None,
            break_glass: false,
        };
        self.submit_request(&Actor::new(actor, [Role::Admin]), &new)
            .await
            .map_err(service_error)
    }

    /// Where an approval card's request stands: still pending (the run waits), or decided.
    async fn approval_decision(&self, request: &str) -> std::result::Result<Performed, CardError> {
        let view = self
            .request_view(&Actor::system("flows"), request)
            .await
            .map_err(service_error)?;
        if view.state == "pending" {
            return Err(CardError::waiting(
                format!("request {request} waits for its reviewers"),
                APPROVAL_RECHECK,
            ));
        }
        let approved = matches!(
            view.state.as_str(),
            "approved" | "active" | "done" | "ended"
        );
        Ok(Performed {
            output: json!({"request": request, "state": view.state, "approved": approved, "plan": view.plan_id}),
            secrets: BTreeMap::new(),
        })
    }
}

/// The service as a dry run sees it: reads answered, changes planned but neither stored nor applied.
pub struct DryRun<'s>(pub &'s Service);

#[async_trait::async_trait]
impl Host for DryRun<'_> {
    async fn read(&self, card: &str, input: &Json) -> std::result::Result<Json, CardError> {
        self.0.read(card, input).await
    }

    async fn prepare(
        &self,
        actor: &str,
        card: &str,
        input: &Json,
    ) -> std::result::Result<Prepared, CardError> {
        if card == "approval" {
            return Ok(Prepared {
                plan: Some("dry-run:approval".into()),
                operations: vec![format!("ask for approval: {input}")],
            });
        }
        let (plan, operations) = self.0.change_plan(actor, card, input).await?;
        Ok(Prepared {
            plan: plan.map(|p| format!("dry-run:{}", p.id)),
            operations,
        })
    }

    async fn notify(&self, card: &str, input: &Json) -> std::result::Result<Json, CardError> {
        Ok(match card {
            "notify.email" => json!({"message_id": "", "recipients": [], "not_sent": true}),
            _ => json!({"channel": input.get("channel"), "ts": "", "not_sent": true}),
        })
    }

    async fn perform(&self, _actor: &str, plan: &str) -> std::result::Result<Performed, CardError> {
        Ok(Performed {
            output: json!({"plan": plan, "outcome": "planned", "changed": true, "operations": []}),
            secrets: BTreeMap::new(),
        })
    }
}

impl Service {
    /// The plan a change card makes, without storing it; `None` when the change is in effect already.
    async fn change_plan(
        &self,
        actor: &str,
        card: &str,
        input: &Json,
    ) -> std::result::Result<(Option<grantflow_model::Plan>, Vec<String>), CardError> {
        let connection = text(input, "connection")?;
        let actual = self.actual_state().await.map_err(service_error)?;
        let snapshot = self.snapshot_of(&actual, connection)?;
        let who = || text(input, "who");
        let acting = Actor::new(actor, [Role::Admin]);
        let one = |kind: OpKind| {
            grantflow_planner::plan_changes(
                vec![(
                    kind,
                    ConnectionName::new(connection),
                    vec![format!("flow step by {actor}")],
                )],
                &actual,
                &format!("{actor} {card}"),
                self.now(),
                vec![],
            )
            .map_err(|e| CardError::new("invalid_change", e.to_string()))
        };
        let plan = match card {
            "resource.create" => {
                let kind = text(input, "kind")?;
                let name = text(input, "name")?;
                let spec = input
                    .get("spec")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                let resource = match snapshot.resource_by_name(kind, name) {
                    Some(existing) => grantflow_planner::resource_ref(existing),
                    None => grantflow_model::ResourceRef {
                        id: grantflow_model::pending_id(name),
                        kind: grantflow_model::ResourceKind::new(kind),
                        name: name.to_string(),
                    },
                };
                one(OpKind::CreateResource { resource, spec })?
            }
            "group.push" => {
                let action = ActionRequest {
                    connection: connection.to_string(),
                    verb: "push_group".into(),
                    who: text(input, "group")?.to_string(),
                    app: Some(text(input, "app")?.to_string()),
                    target_name: input
                        .get("target_name")
                        .and_then(Json::as_str)
                        .map(str::to_string),
                    options: vec![],
                };
                self.action_plan(&acting, &action, &actual)
                    .map_err(service_error)?
            }
            "account.create" => {
                let login = text(input, "login")?;
                let mut attributes = input
                    .get("attributes")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                attributes
                    .entry("login")
                    .or_insert_with(|| Json::String(login.to_string()));
                let flag = |name: &str| input.get(name).and_then(Json::as_bool);
                let defaults = grantflow_model::AccountOptions::default();
                let options = grantflow_model::AccountOptions {
                    activate: flag("activate").unwrap_or(defaults.activate),
                    send_email: flag("send_email").unwrap_or(defaults.send_email),
                    temporary_password: flag("temporary_password")
                        .unwrap_or(defaults.temporary_password),
                };
                let account = AccountRef {
                    id: grantflow_model::pending_id(login),
                    login: login.to_string(),
                };
                one(OpKind::create_account(account, attributes, options))?
            }
            "account.retire" => {
                let account = account_of(&snapshot, connection, who()?)?;
                let mode = text(input, "mode")?;
                let mode: grantflow_model::RetireMode =
                    serde_json::from_value(Json::String(mode.to_string())).map_err(|_| {
                        CardError::new(
                            "invalid_mode",
                            format!("mode `{mode}`: use suspend, deactivate or delete"),
                        )
                    })?;
                one(OpKind::retire_account(account, mode))?
            }
            "account.action" => {
                let options = input
                    .get("options")
                    .and_then(Json::as_object)
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| match v {
                                Json::String(s) => format!("{k}={s}"),
                                other => format!("{k}={other}"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let action = ActionRequest {
                    connection: connection.to_string(),
                    verb: text(input, "verb")?.to_string(),
                    who: who()?.to_string(),
                    app: input.get("app").and_then(Json::as_str).map(str::to_string),
                    target_name: None,
                    options,
                };
                self.action_plan(&acting, &action, &actual)
                    .map_err(service_error)?
            }
            "grant.add" | "grant.remove" | "profile.update" => {
                let account = account_of(&snapshot, connection, who()?)?;
                let kind = if card == "profile.update" {
                    let wanted = input
                        .get("attributes")
                        .and_then(Json::as_object)
                        .cloned()
                        .unwrap_or_default();
                    let current = snapshot
                        .account(&account.id)
                        .map(|a| a.attributes.clone())
                        .unwrap_or_default();
                    let before: Map<String, Json> = wanted
                        .keys()
                        .map(|k| (k.clone(), current.get(k).cloned().unwrap_or(Json::Null)))
                        .collect();
                    OpKind::update_profile(account, before, wanted)
                } else {
                    let kind = input.get("kind").and_then(Json::as_str).unwrap_or("group");
                    let name = text(input, "resource")?;
                    let resource = snapshot.resource_by_name(kind, name).ok_or_else(|| {
                        CardError::new(
                            "unknown_resource",
                            format!("no {kind} `{name}` in {connection}'s last sync"),
                        )
                        .in_system(connection)
                    })?;
                    let entitlement = match input.get("entitlement").and_then(Json::as_str) {
                        Some(e) => resource
                            .entitlement_aliases
                            .get(e)
                            .cloned()
                            .unwrap_or_else(|| e.to_string()),
                        None => resource
                            .entitlements
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "member".into()),
                    };
                    let resource = grantflow_planner::resource_ref(resource);
                    if card == "grant.add" {
                        OpKind::AddGrant {
                            account,
                            resource,
                            entitlement,
                        }
                    } else {
                        OpKind::RemoveGrant {
                            account,
                            resource,
                            entitlement,
                        }
                    }
                };
                one(kind)?
            }
            other => {
                return Err(CardError::new(
                    "unknown_card",
                    format!("`{other}` is not a change card"),
                ));
            }
        };
        self.refuse_unsupported(&plan).map_err(service_error)?;
        let plan = self
            .without_changes_already_live(plan, &actual)
            .await
            .map_err(service_error)?;
        if plan.operations.is_empty() {
            return Ok((None, plan.review.notes.clone()));
        }
        let operations: Vec<String> = plan
            .operations
            .iter()
            .map(|op| format!("{} ({})", op.describe(), op.connection))
            .collect();
        Ok((Some(plan), operations))
    }

    async fn perform_plan(
        &self,
        actor: &str,
        plan_id: &str,
    ) -> std::result::Result<Performed, CardError> {
        let acting = Actor::new(actor, [Role::Admin]);
        let outcome = self
            .apply(&acting, plan_id, &ApplyOptions::default(), &Silent)
            .await
            .map_err(service_error)?;
        let ApplyOutcome::Ran { report, .. } = outcome else {
            return Err(CardError::new(
                "queued",
                format!("plan {plan_id} was queued instead of run"),
            ));
        };
        if let Some(failed) = report
            .operations
            .iter()
            .find(|op| op.error_code.is_some() && report.failed > 0)
        {
            let plan = self.store.plan(plan_id).await.ok();
            let system = plan
                .and_then(|p| p.operations.into_iter().find(|op| op.id.0 == failed.id))
                .map(|op| op.connection.to_string());
            let mut error = CardError::new(
                failed.error_code.clone().unwrap_or_default(),
                failed
                    .error_message
                    .clone()
                    .unwrap_or_else(|| format!("{} failed", failed.change)),
            );
            error.system = system;
            return Err(error);
        }
        let outcome = if report.failed > 0 {
            "failed"
        } else if report.waiting > 0 {
            "waiting"
        } else if report.retrying > 0 || report.pending > 0 {
            "retrying"
        } else {
            "succeeded"
        };
        let plan = self
            .store
            .plan(plan_id)
            .await
            .map_err(|e| CardError::new("store", e.to_string()))?;
        let mut secrets = BTreeMap::new();
        for (_, _, secret) in self.take_secrets(&plan) {
            secrets.insert("temporary_password".to_string(), secret);
        }
        let operations: Vec<Json> = report
            .operations
            .iter()
            .map(|op| json!({"change": op.change, "state": op.state.as_str(), "outcome": op.outcome}))
            .collect();
        Ok(Performed {
            output: json!({
                "plan": plan_id,
                "outcome": outcome,
                "changed": report.operations.iter().any(|op| op.outcome.as_deref() == Some("applied")),
                "operations": operations,
            }),
            secrets,
        })
    }
}
