//! Workflows in the service: loading the flow files, starting runs from each trigger (by hand, the API,
//! Okta events, signed webhooks, schedules, people's dates), running them, and reading their history.
//! The cards that read or change systems are answered here ([`Host`]): a change becomes a plan, stored and
//! applied through the engine's gate like any other.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use grantflow_engine::Silent;
use grantflow_model::{AccountRef, ConnectionName, OpKind, Snapshot};
use grantflow_store::{FlowRunRecord, FlowStepRecord, RunStart};
use grantflow_workflows::{CardError, FlowSet, Host, Performed, Prepared, Runtime, Start, Trigger};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::plans::ActionRequest;
use crate::{Actor, ApplyOptions, ApplyOutcome, Result, Role, Service, ServiceError};

/// A run and its steps, as the history shows them.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRunView {
    pub id: String,
    pub flow: String,
    pub version: String,
    pub trigger: String,
    pub event_key: Option<String>,
    pub actor: String,
    pub state: String,
    pub output: Option<Json>,
    pub error: Option<Json>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub steps: Vec<FlowStepView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowStepView {
    pub path: String,
    pub step: String,
    pub card: String,
    pub state: String,
    pub attempts: i64,
    pub input: Option<Json>,
    pub output: Option<Json>,
    pub error: Option<Json>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_ms: Option<i64>,
}

pub fn view_of(run: FlowRunRecord, steps: Vec<FlowStepRecord>) -> FlowRunView {
    FlowRunView {
        id: run.id,
        flow: run.flow,
        version: run.version,
        trigger: run.trigger_kind,
        event_key: run.event_key,
        actor: run.actor,
        state: run.state.as_str().to_string(),
        output: run.output,
        error: run.error,
        created_at: run.created_at,
        finished_at: run.finished_at,
        steps: steps
            .into_iter()
            .map(|s| FlowStepView {
                duration_ms: s.finished_at.map(|f| (f - s.started_at).num_milliseconds()),
                path: s.path,
                step: s.step,
                card: s.card,
                state: s.state.as_str().to_string(),
                attempts: s.attempts,
                input: s.input,
                output: s.output,
                error: s.error,
                started_at: s.started_at,
                finished_at: s.finished_at,
            })
            .collect(),
    }
}

/// The flows a long-running process serves (`serve`, `worker`), reloaded when their files change: a run
/// already started keeps its version; new runs take the new one.
#[derive(Default)]
pub struct LoadedFlows {
    current: std::sync::RwLock<Arc<FlowSet>>,
}

impl LoadedFlows {
    pub fn new(flows: FlowSet) -> Self {
        Self {
            current: std::sync::RwLock::new(Arc::new(flows)),
        }
    }

    pub fn current(&self) -> Arc<FlowSet> {
        self.current
            .read()
            .map(|flows| flows.clone())
            .unwrap_or_default()
    }

    /// Reads the files again; a file with mistakes leaves the flows as they were, and says why.
    pub fn reload(&self, service: &Service) {
        match service.load_flows(None) {
            Ok(flows) => {
                let old = self.current();
                let changed = flows.len() != old.len()
                    || flows
                        .iter()
                        .any(|f| old.get(&f.name).is_none_or(|o| o.version != f.version));
                if changed {
                    tracing::info!(
                        message = "Flow files changed; new runs use the new versions.",
                        flows = flows.len()
                    );
                    if let Ok(mut current) = self.current.write() {
                        *current = Arc::new(flows);
                    }
                }
            }
            Err(error) => {
                tracing::error!(message = "The flow files have mistakes; the flows loaded before stay in use.", error = %error);
            }
        }
    }
}

/// How often a flow worker looks for due runs when it found none.
const FLOW_POLL: Duration = Duration::from_millis(250);
/// How often it reads the flow files again.
const FLOW_RELOAD: Duration = Duration::from_secs(5);

/// How long a worker holds a run before another may take it up.
const RUN_LEASE: Duration = Duration::from_secs(60);

/// Who a run acts as when no person started it.
pub fn flow_actor(flow: &str) -> String {
    format!("flow:{flow}")
}

impl Service {
    /// Loads and checks the flow files of `path` (default: the configured flows directory).
    pub fn load_flows(&self, path: Option<&Path>) -> Result<FlowSet> {
        let path = path.unwrap_or(&self.config.flows.directory);
        if !path.exists() {
            return Ok(FlowSet::default());
        }
        FlowSet::load(path).map_err(|d| ServiceError::Policy(d.to_string()))
    }

    /// The runtime that runs `flows` as this worker.
    pub fn flow_runtime(&self, flows: Arc<FlowSet>, worker: &str) -> Runtime<'_> {
        Runtime {
            store: self.store.clone(),
            host: self,
            http: &self.flow_http,
            flows,
            owner: grantflow_engine::process::lease_owner(worker),
            lease: RUN_LEASE,
            dry_run: false,
        }
    }

    /// Starts a run of `flow` by hand or through the API with `inputs`; `key` (an idempotency key) makes a
    /// repeated call return the first run.
    pub async fn start_flow(
        &self,
        actor: &Actor,
        flows: &Arc<FlowSet>,
        flow: &str,
        inputs: Json,
        key: Option<String>,
        via: &str,
    ) -> Result<RunStart> {
        if !actor.has(&Role::Admin) {
            return Err(ServiceError::Forbidden(format!(
                "{actor} may not run flows"
            )));
        }
        let Some(found) = flows.get(flow) else {
            let known: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
            return Err(ServiceError::NotFound(format!(
                "no flow `{flow}` (loaded: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        if via == "api" && !found.trigger.as_ref().is_some_and(Trigger::takes_calls) {
            return Err(ServiceError::refused(
                "not_callable",
                format!(
                    "flow {flow} is not started by API calls (its trigger is {})",
                    found.trigger.as_ref().map(Trigger::kind).unwrap_or("none")
                ),
            ));
        }
        let start = Start {
            trigger: via.to_string(),
            event: json!({"by": actor.id}),
            inputs,
            key: key.map(|k| format!("{via}:{k}")),
            actor: actor.id.clone(),
        };
        self.flow_runtime(flows.clone(), &actor.id)
            .start(&found, start)
            .await
            .map_err(run_error)
    }

    /// Starts the runs an Okta event (from the event hook or the System Log) triggers: one per flow whose
    /// trigger it matches, never two for one event.
    pub async fn start_flows_for_okta_event(
        &self,
        flows: &Arc<FlowSet>,
        connection: &str,
        event: &Json,
    ) -> Result<Vec<RunStart>> {
        let runtime = self.flow_runtime(flows.clone(), "grantflow:events");
        let mut started = Vec::new();
        for flow in flows.iter() {
            let Some(trigger) = &flow.trigger else {
                continue;
            };
            let Some((view, key)) = trigger.okta_event(connection, event) else {
                continue;
            };
            let start = Start {
                trigger: "okta".into(),
                event: view,
                inputs: Json::Null,
                key: Some(key),
                actor: flow_actor(&flow.name),
            };
            started.push(runtime.start(flow, start).await.map_err(run_error)?);
        }
        Ok(started)
    }

    /// Starts a run from a signed webhook delivery to `/hooks/flows/{flow}`.
    pub async fn start_flow_from_webhook(
        &self,
        flows: &Arc<FlowSet>,
        flow: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<RunStart> {
        let Some(found) = flows.get(flow) else {
            return Err(ServiceError::NotFound(format!("no flow `{flow}`")));
        };
        let Some(Trigger::Webhook { secret, tolerance }) = &found.trigger else {
            return Err(ServiceError::NotFound(format!(
                "flow {flow} has no webhook trigger"
            )));
        };
        let source = match secret.split_once(':') {
            Some(("env", name)) => grantflow_connectors::SecretSource {
                env: Some(name.to_string()),
                file: None,
            },
            Some(("file", path)) => grantflow_connectors::SecretSource {
                env: None,
                file: Some(path.into()),
            },
            _ => {
                return Err(ServiceError::Invalid(format!(
                    "flow {flow}: the webhook secret is env:NAME or file:PATH"
                )));
            }
        };
        let secret = source
            .read(
                &format!("flow {flow} webhook secret"),
                &self.config.base_dir,
            )
            .map_err(|f| ServiceError::Invalid(f.message()))?;
        let key = grantflow_workflows::webhook::verify(
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
            timestamp,
            signature,
            body,
            self.now(),
            *tolerance,
        )
        .map_err(|refusal| {
            ServiceError::refused("webhook_refused", format!("flow {flow}: {refusal}"))
        })?;
        let event: Json = serde_json::from_slice(body)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(body).into_owned()));
        let start = Start {
            trigger: "webhook".into(),
            event: json!({"body": event}),
            inputs: Json::Null,
            key: Some(key),
            actor: flow_actor(flow),
        };
        self.flow_runtime(flows.clone(), "grantflow:webhooks")
            .start(&found, start)
            .await
            .map_err(run_error)
    }

    /// Starts what schedules and people's dates make due by now: each scheduled instant since the flow's
    /// last scheduled run (never before `since`), and each person whose date (plus offset) has come within
    /// the last week. Keys make a second worker's tick start nothing twice.
    pub async fn start_due_flows(
        &self,
        flows: &Arc<FlowSet>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RunStart>> {
        let now = self.now();
        let runtime = self.flow_runtime(flows.clone(), "grantflow:schedules");
        let mut started = Vec::new();
        for flow in flows.iter() {
            match &flow.trigger {
                Some(trigger @ Trigger::Schedule { expression, .. }) => {
                    let last = self
                        .store
                        .flow_runs(Some(&flow.name), 1)
                        .await?
                        .first()
                        .and_then(|r| {
                            r.event
                                .pointer("/event/scheduled_for")
                                .and_then(Json::as_str)
                                .map(str::to_string)
                        })
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&chrono::Utc));
                    let after = last.unwrap_or(since);
                    for instant in trigger.due_instants(after, now, 10) {
                        let start = Start {
                            trigger: "schedule".into(),
                            event: json!({"scheduled_for": instant.to_rfc3339(), "cron": expression}),
                            inputs: Json::Null,
                            key: Some(format!("schedule:{}", instant.to_rfc3339())),
                            actor: flow_actor(&flow.name),
                        };
                        started.push(runtime.start(flow, start).await.map_err(run_error)?);
                    }
                }
                Some(trigger @ Trigger::PersonDate { field, .. }) => {
                    let Ok(actual) = self.actual_state().await else {
                        continue;
                    };
                    let Ok(people) = grantflow_planner::directory_people(&actual) else {
                        continue;
                    };
                    for person in people.iter().map(grantflow_policy::person_value) {
                        let Some(date) = field_value(&person, field) else {
                            continue;
                        };
                        let Some(instant) = trigger.date_instant(&date) else {
                            continue;
                        };
                        if instant > now || now - instant > chrono::Duration::days(7) {
                            continue;
                        }
                        let email = person
                            .get("email")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let start = Start {
                            trigger: "person_date".into(),
                            event: json!({"person": person, "field": field, "date": date, "due": instant.to_rfc3339()}),
                            inputs: Json::Null,
                            key: Some(format!("date:{email}:{field}:{date}")),
                            actor: flow_actor(&flow.name),
                        };
                        started.push(runtime.start(flow, start).await.map_err(run_error)?);
                    }
                }
                _ => {}
            }
        }
        Ok(started)
    }

    /// Runs flows until `stop`: starts what schedules and people's dates make due, runs queued, woken and
    /// abandoned runs (up to `max_runs` at once), reloads changed flow files, and keeps each flow's history
    /// for its retention.
    pub async fn run_flow_worker(
        &self,
        flows: &LoadedFlows,
        max_runs: usize,
        exit_when_idle: bool,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(stop);
        let mut since = self.now();
        let mut reloaded = std::time::Instant::now();
        let mut purged: Option<std::time::Instant> = None;
        loop {
            if reloaded.elapsed() >= FLOW_RELOAD {
                flows.reload(self);
                reloaded = std::time::Instant::now();
            }
            let set = flows.current();
            let now = self.now();
            match self.start_due_flows(&set, since).await {
                Ok(_) => since = now,
                Err(error) => {
                    tracing::error!(message = "Starting scheduled flows failed; trying again.", error = %error)
                }
            }
            let runtime = self.flow_runtime(set, "grantflow:flows");
            if purged.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                purged = Some(std::time::Instant::now());
                if let Err(error) = runtime.purge_history().await {
                    tracing::error!(message = "Purging old flow runs failed.", error = %error);
                }
            }
            let ran = runtime.run_available(max_runs).await.map_err(run_error)?;
            if ran > 0 {
                continue;
            }
            if exit_when_idle && self.store.open_flow_runs().await? == 0 {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(FLOW_POLL) => {}
                _ = &mut stop => return Ok(()),
            }
        }
    }

    /// A run and its steps.
    pub async fn flow_run(&self, actor: &Actor, id: &str) -> Result<FlowRunView> {
        self.may_read_flows(actor)?;
        let run = self
            .store
            .flow_run(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no flow run {id}")))?;
        let steps = self.store.flow_steps(id).await?;
        Ok(view_of(run, steps))
    }

    /// Runs, newest first, of one flow or all.
    pub async fn flow_runs(
        &self,
        actor: &Actor,
        flow: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FlowRunView>> {
        self.may_read_flows(actor)?;
        Ok(self
            .store
            .flow_runs(flow, limit)
            .await?
            .into_iter()
            .map(|run| view_of(run, vec![]))
            .collect())
    }

    fn may_read_flows(&self, actor: &Actor) -> Result<()> {
        if [Role::Admin, Role::Auditor, Role::Viewer]
            .iter()
            .any(|r| actor.has(r))
        {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "{actor} may not read flow runs"
            )))
        }
    }

    fn snapshot_of(
        &self,
        actual: &grantflow_planner::ActualState,
        connection: &str,
    ) -> std::result::Result<Snapshot, CardError> {
        actual
            .snapshots
            .get(&ConnectionName::new(connection))
            .cloned()
            .ok_or_else(|| {
                CardError::new(
                    "not_synced",
                    format!("connection {connection} is not configured or has not been synced"),
                )
            })
    }
}

fn run_error(error: grantflow_workflows::RunError) -> ServiceError {
    match error {
        grantflow_workflows::RunError::Store(e) => ServiceError::Store(e),
        other => ServiceError::Invalid(other.to_string()),
    }
}

/// `hris.start_date` or a profile attribute of a person's value.
fn field_value(person: &Json, field: &str) -> Option<String> {
    let mut value = person;
    for part in field.split('.') {
        value = value.get(part)?;
    }
    value.as_str().map(str::to_string)
}

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
