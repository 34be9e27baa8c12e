//! Runs of flows against a fake host (what the service does for reads and changes) and a local HTTP
//! server, on SQLite and, when `GRANTFLOW_TEST_POSTGRES` is set, PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use grantflow_model::SystemClock;
use grantflow_store::{FlowRunState, RunStart, Store, testing};
use grantflow_workflows::{
    CardError, FlowSet, Host, HttpCards, HttpConnection, Performed, Prepared, Runtime, Start,
};
use secrecy::SecretString;
use serde_json::{Value as Json, json};

/// Reads answer a fixed person; each change is a "plan" whose effect is counted once per plan id, however
/// often it is applied (as the engine's jobs make it). `block_perform` holds every apply until released,
/// so a test can stop a run in the middle of one.
#[derive(Default)]
struct FakeHost {
    prepared: AtomicUsize,
    effects: Mutex<BTreeMap<String, usize>>,
    performs: AtomicUsize,
    block_perform: Mutex<Option<Arc<tokio::sync::Notify>>>,
    fail_with: Mutex<Option<CardError>>,
}

#[async_trait::async_trait]
impl Host for FakeHost {
    async fn read(&self, card: &str, input: &Json) -> Result<Json, CardError> {
        assert_eq!(card, "person.get");
        Ok(json!({
            "email": input["who"], "login": input["who"], "name": "Kim Lee", "status": "ACTIVE",
            "state": "active", "active": true, "profile": {"department": "Sales", "isMemberOfGroup": null},
            "manager": "mia@example.com", "accounts": [],
        }))
    }

    async fn prepare(&self, _actor: &str, card: &str, input: &Json) -> Result<Prepared, CardError> {
        if let Some(error) = self.fail_with.lock().unwrap().clone() {
            return Err(error);
        }
        let n = self.prepared.fetch_add(1, Ordering::SeqCst);
        Ok(Prepared {
            plan: Some(format!("plan-{n}-{card}")),
            operations: vec![format!("{card} {input}")],
        })
    }

    async fn notify(&self, _card: &str, input: &Json) -> Result<Json, CardError> {
        Ok(json!({"channel": input["channel"], "ts": "1.0"}))
    }

    async fn perform(&self, _actor: &str, plan: &str) -> Result<Performed, CardError> {
        self.performs.fetch_add(1, Ordering::SeqCst);
        let gate = self.block_perform.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        let first = {
            let mut effects = self.effects.lock().unwrap();
            let count = effects.entry(plan.to_string()).or_default();
            *count += 1;
            *count == 1
        };
        let mut secrets = BTreeMap::new();
        if plan.ends_with("account.action") {
            secrets.insert(
                "temporary_password".to_string(),
                SecretString::from("Tmp-7f3Q-secret".to_string()),
            );
        }
        Ok(Performed {
            output: json!({"plan": plan, "outcome": "succeeded", "changed": first}),
            secrets,
        })
    }
}

/// A local HTTP server: `/vault` records each POST's body and `Idempotency-Key` (a repeated key is
/// answered as before, not stored twice); `/busy` answers 429 with Retry-After 1 the first `busy` times.
#[derive(Default)]
struct Echo {
    stored: Mutex<Vec<(String, Json)>>,
    busy_left: AtomicUsize,
    busy_calls: AtomicUsize,
}

async fn echo_server(echo: Arc<Echo>) -> String {
    async fn vault(
        State(echo): State<Arc<Echo>>,
        headers: HeaderMap,
        body: axum::Json<Json>,
    ) -> (StatusCode, axum::Json<Json>) {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut stored = echo.stored.lock().unwrap();
        if !stored.iter().any(|(k, _)| *k == key) {
            stored.push((key.clone(), body.0));
        }
        (StatusCode::CREATED, axum::Json(json!({"id": key})))
    }
    async fn busy(State(echo): State<Arc<Echo>>) -> (StatusCode, HeaderMap, String) {
        echo.busy_calls.fetch_add(1, Ordering::SeqCst);
        let mut headers = HeaderMap::new();
        if echo.busy_left.load(Ordering::SeqCst) > 0 {
            echo.busy_left.fetch_sub(1, Ordering::SeqCst);
            headers.insert("retry-after", "1".parse().unwrap());
            return (StatusCode::TOO_MANY_REQUESTS, headers, "slow down".into());
        }
        (StatusCode::OK, headers, "done".into())
    }
    async fn error() -> (StatusCode, axum::Json<Json>) {
        (
            StatusCode::FORBIDDEN,
            axum::Json(
                json!({"errorCode": "E0000006", "errorSummary": "You do not have permission"}),
            ),
        )
    }
    let app = axum::Router::new()
        .route("/vault", post(vault))
        .route("/busy", get(busy))
        .route("/error", get(error))
        .with_state(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn http_cards(base: &str) -> HttpCards {
    let port = base.rsplit(':').next().unwrap();
    let connection: HttpConnection =
        serde_json::from_value(json!({"allowed_hosts": [format!("127.0.0.1:{port}")]})).unwrap();
    HttpCards::new(
        BTreeMap::from([("vault".to_string(), connection)]),
        PathBuf::from("."),
    )
}

async fn stores(test: &str) -> Vec<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let mut out = vec![(Store::open(&url, Arc::new(SystemClock)).await.unwrap(), dir)];
    if let Some(url) = testing::postgres_url(test).await {
        out.push((
            Store::open(&url, Arc::new(SystemClock)).await.unwrap(),
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

fn flows(files: &[(&str, &str)]) -> Arc<FlowSet> {
    Arc::new(
        FlowSet::from_sources(
            files
                .iter()
                .map(|(name, text)| (PathBuf::from(name), text.to_string()))
                .collect(),
        )
        .unwrap_or_else(|d| panic!("{d}")),
    )
}

fn runtime<'h>(
    store: &Store,
    host: &'h FakeHost,
    http: &'h HttpCards,
    flows: Arc<FlowSet>,
    worker: &str,
) -> Runtime<'h> {
    Runtime {
        store: store.clone(),
        host,
        http,
        flows,
        owner: format!("{worker}@test#{}", uuid::Uuid::new_v4().simple()),
        lease: Duration::from_secs(60),
        dry_run: false,
    }
}

fn manual(inputs: Json) -> Start {
    Start {
        trigger: "manual".into(),
        event: json!({}),
        inputs,
        key: None,
        actor: "cli:test".into(),
    }
}

async fn started(runtime: &Runtime<'_>, flow: &str, start: Start) -> String {
    let flow = runtime.flows.get(flow).unwrap();
    match runtime.start(&flow, start).await.unwrap() {
        RunStart::Started(run) => run.id,
        RunStart::Duplicate(run) => panic!("unexpected duplicate {}", run.id),
    }
}

const NEW_HIRE: &str = r#"
flow: new-hire-password
trigger:
  manual: {}
inputs:
  who: {type: string}
steps:
  - id: user
    card: person.get
    with: {who: "${inputs.who}"}
  - id: mark
    card: profile.update
    with:
      connection: okta
      who: "${steps.user.login}"
      attributes: {isMemberOfGroup: true}
  - id: reset
    card: account.action
    with: {connection: okta, verb: reset_password, who: "${steps.user.login}"}
  - id: store
    card: http
    with:
      connection: vault
      method: POST
      url: "${inputs.vault}/vault"
      body: {manager: "${steps.user.manager}", password: "${steps.reset.temporary_password}"}
  - id: done
    return: {stored: "${steps.store.status == 201}", manager: "${steps.user.manager}"}
"#;

fn new_hire(vault: &str) -> String {
    NEW_HIRE.replace(
        "  who: {type: string}",
        &format!("  who: {{type: string}}\n  vault: {{type: string, default: \"{vault}\"}}"),
    )
}

#[tokio::test]
async fn a_run_records_every_card_and_never_a_secret() {
    for (store, _dir) in stores("a_run_records_every_card_and_never_a_secret").await {
        let echo = Arc::new(Echo::default());
        let base = echo_server(echo.clone()).await;
        let http = http_cards(&base);
        let host = FakeHost::default();
        let set = flows(&[("new-hire.yaml", &new_hire(&base))]);
        let rt = runtime(&store, &host, &http, set, "w1");
        let id = started(
            &rt,
            "new-hire-password",
            manual(json!({"who": "kim@example.com"})),
        )
        .await;
        let outcome = rt.run_now(&id).await.unwrap().unwrap();
        assert_eq!(outcome.state, FlowRunState::Succeeded, "{outcome:?}");
        assert_eq!(
            outcome.output,
            Some(json!({"stored": true, "manager": "mia@example.com"}))
        );
        // The vault got the real password, once.
        let stored = echo.stored.lock().unwrap().clone();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].1["password"], "Tmp-7f3Q-secret");
        // The history has every card, with inputs and outputs, and the secret nowhere.
        let steps = store.flow_steps(&id).await.unwrap();
        let cards: Vec<&str> = steps.iter().map(|s| s.card.as_str()).collect();
        assert_eq!(
            cards,
            [
                "person.get",
                "profile.update",
                "account.action",
                "http",
                "return"
            ]
        );
        assert!(
            steps
                .iter()
                .all(|s| s.state == grantflow_store::FlowStepState::Succeeded)
        );
        let everything = format!(
            "{steps:?} {:?} {:?}",
            store.flow_run(&id).await.unwrap(),
            store.audit_events().await.unwrap()
        );
        assert!(
            !everything.contains("Tmp-7f3Q-secret"),
            "a secret was recorded"
        );
        assert_eq!(
            steps[2].output.as_ref().unwrap()["temporary_password"],
            "[secret]"
        );
        assert_eq!(
            steps[3].input.as_ref().unwrap()["body"]["password"],
            "[secret]"
        );
        assert_eq!(
            steps[1].input.as_ref().unwrap()["attributes"],
            json!({"isMemberOfGroup": true})
        );
    }
}

#[tokio::test]
async fn a_run_stopped_mid_change_resumes_without_repeating_an_effect() {
    for (store, _dir) in
        stores("a_run_stopped_mid_change_resumes_without_repeating_an_effect").await
    {
        let echo = Arc::new(Echo::default());
        let base = echo_server(echo.clone()).await;
        let http = http_cards(&base);
        let host = FakeHost::default();
        let set = flows(&[("new-hire.yaml", &new_hire(&base))]);
        let gate = Arc::new(tokio::sync::Notify::new());
        *host.block_perform.lock().unwrap() = Some(gate.clone());
        let first = runtime(&store, &host, &http, set.clone(), "w1");
        let id = started(
            &first,
            "new-hire-password",
            manual(json!({"who": "kim@example.com"})),
        )
        .await;
        // The worker dies while the profile update is being applied: its future is dropped.
        let _ = tokio::time::timeout(Duration::from_millis(500), first.run_now(&id)).await;
        assert_eq!(host.performs.load(Ordering::SeqCst), 1);
        assert_eq!(host.prepared.load(Ordering::SeqCst), 1);
        // Another worker takes the run up once its lease is released (the process is gone).
        store.release_flow_run(&id, &first.owner).await.unwrap();
        *host.block_perform.lock().unwrap() = None;
        let second = runtime(&store, &host, &http, set, "w2");
        let outcome = second.run_now(&id).await.unwrap().unwrap();
        assert_eq!(outcome.state, FlowRunState::Succeeded, "{outcome:?}");
        // The same plan was applied again (the engine resumes it), never a second plan for the same step.
        assert_eq!(
            host.prepared.load(Ordering::SeqCst),
            2,
            "one plan per change step"
        );
        let effects = host.effects.lock().unwrap().clone();
        assert_eq!(effects.get("plan-0-profile.update"), Some(&1));
        assert_eq!(effects.len(), 2);
        assert_eq!(echo.stored.lock().unwrap().len(), 1);
        // The first worker can write nothing more.
        assert!(first.run_now(&id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn one_event_starts_one_run() {
    for (store, _dir) in stores("one_event_starts_one_run").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let set = flows(&[("f.yaml", ONE_SET_CARD)]);
        let rt = runtime(&store, &host, &http, set.clone(), "w");
        let flow = set.get("f").unwrap();
        let keyed = || Start {
            key: Some("okta:evt-1".into()),
            ..manual(json!({}))
        };
        let RunStart::Started(first) = rt.start(&flow, keyed()).await.unwrap() else {
            panic!("not started")
        };
        let RunStart::Duplicate(again) = rt.start(&flow, keyed()).await.unwrap() else {
            panic!("started twice")
        };
        assert_eq!(first.id, again.id);
        assert_eq!(store.flow_runs(Some("f"), 10).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_run_keeps_the_version_it_started_with() {
    for (store, _dir) in stores("a_run_keeps_the_version_it_started_with").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let v1 = "flow: f\ntrigger: {manual: {}}\nsteps:\n  - id: out\n    return: {version: 1}\n";
        let v2 = "flow: f\ntrigger: {manual: {}}\nsteps:\n  - id: out\n    return: {version: 2}\n";
        let rt1 = runtime(&store, &host, &http, flows(&[("f.yaml", v1)]), "w");
        let id = started(&rt1, "f", manual(json!({}))).await;
        // The file changes before a worker takes the run up.
        let rt2 = runtime(&store, &host, &http, flows(&[("f.yaml", v2)]), "w");
        let outcome = rt2.run_now(&id).await.unwrap().unwrap();
        assert_eq!(outcome.output, Some(json!({"version": 1})));
        let id2 = started(&rt2, "f", manual(json!({}))).await;
        assert_eq!(
            rt2.run_now(&id2).await.unwrap().unwrap().output,
            Some(json!({"version": 2}))
        );
    }
}

#[tokio::test]
async fn a_vendor_error_is_recorded_with_its_code_and_catch_takes_over() {
    for (store, _dir) in stores("a_vendor_error_is_recorded_with_its_code").await {
        let echo = Arc::new(Echo::default());
        let base = echo_server(echo.clone()).await;
        let http = http_cards(&base);
        let host = FakeHost::default();
        *host.fail_with.lock().unwrap() = Some(
            CardError::new("E0000007", "Not found: Resource not found: kim (User)")
                .in_system("okta"),
        );
        let text = format!(
            "flow: f\ntrigger: {{manual: {{}}}}\nsteps:\n  - id: suspend\n    card: account.action\n    with: {{connection: okta, verb: suspend, who: kim}}\n    catch:\n      - id: tell\n        card: set\n        with: {{why: \"${{error.code}}\"}}\n  - id: denied\n    card: http\n    with: {{connection: vault, url: \"{base}/error\"}}\n"
        );
        let rt = runtime(&store, &host, &http, flows(&[("f.yaml", &text)]), "w");
        let id = started(&rt, "f", manual(json!({}))).await;
        let outcome = rt.run_now(&id).await.unwrap().unwrap();
        assert_eq!(outcome.state, FlowRunState::Failed);
        let steps = store.flow_steps(&id).await.unwrap();
        let by_path: BTreeMap<&str, _> = steps.iter().map(|s| (s.path.as_str(), s)).collect();
        assert_eq!(
            by_path["suspend"].error.as_ref().unwrap()["code"],
            "E0000007"
        );
        assert_eq!(by_path["suspend"].error.as_ref().unwrap()["system"], "okta");
        assert_eq!(
            by_path["suspend/catch/tell"].output.as_ref().unwrap()["why"],
            "E0000007"
        );
        let denied = by_path["denied"].error.as_ref().unwrap();
        assert_eq!(denied["code"], "403");
        assert!(
            denied["message"].as_str().unwrap().contains("E0000006"),
            "{denied}"
        );
        assert_eq!(outcome.error.unwrap()["step"], "denied");
    }
}

#[tokio::test]
async fn the_http_card_refuses_a_host_outside_its_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}", dir.path().join("g.db").display()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let echo = Arc::new(Echo::default());
    let base = echo_server(echo.clone()).await;
    let http = http_cards(&base);
    let host = FakeHost::default();
    let text = "flow: f\ntrigger: {manual: {}}\nsteps:\n  - id: out\n    card: http\n    with: {connection: vault, method: POST, url: \"http://127.0.0.2:1/vault\", body: {a: 1}}\n";
    let rt = runtime(&store, &host, &http, flows(&[("f.yaml", text)]), "w");
    let id = started(&rt, "f", manual(json!({}))).await;
    let outcome = rt.run_now(&id).await.unwrap().unwrap();
    assert_eq!(outcome.state, FlowRunState::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error["code"], "host_not_allowed", "{error}");
    assert!(echo.stored.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_429_storm_is_waited_out_as_the_server_asks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}", dir.path().join("g.db").display()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let echo = Arc::new(Echo::default());
    echo.busy_left.store(2, Ordering::SeqCst);
    let base = echo_server(echo.clone()).await;
    let http = http_cards(&base);
    let host = FakeHost::default();
    let text = format!(
        "flow: f\ntrigger: {{manual: {{}}}}\nsteps:\n  - id: call\n    card: http\n    with: {{connection: vault, url: \"{base}/busy\"}}\n    retry: {{attempts: 3, backoff: 1s}}\n"
    );
    let rt = runtime(&store, &host, &http, flows(&[("f.yaml", &text)]), "w");
    let id = started(&rt, "f", manual(json!({}))).await;
    let began = std::time::Instant::now();
    let outcome = rt.run_now(&id).await.unwrap().unwrap();
    assert_eq!(outcome.state, FlowRunState::Succeeded, "{outcome:?}");
    // Three calls in all, each after the server's Retry-After: never faster than it allowed.
    assert_eq!(echo.busy_calls.load(Ordering::SeqCst), 3);
    assert!(
        began.elapsed() >= Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    let steps = store.flow_steps(&id).await.unwrap();
    assert_eq!(steps[0].attempts, 3);
}

#[tokio::test]
async fn branches_loops_and_helper_flows_run_and_are_recorded() {
    for (store, _dir) in stores("branches_loops_and_helper_flows").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let main = r#"
flow: main
trigger: {manual: {}}
inputs:
  team: {type: string}
steps:
  - id: names
    card: set
    with: {members: ["ann", "bob", "cy"]}
  - id: each
    for_each: "${steps.names.members}"
    as: member
    concurrency: 2
    steps:
      - id: greet
        card: text.template
        with: {text: "hi {who} of {team}", values: {who: "${member}", team: "${inputs.team}"}}
  - id: pick
    switch: "inputs.team"
    cases:
      sales:
        - id: made
          call: make-team
          with: {name: "${inputs.team}"}
    default:
      - id: nothing
        card: set
        with: {x: 0}
  - id: out
    return: {count: "${steps.each.count}", greeting: "${steps.each.results[1].greet.text}", group: "${steps.pick.steps.made.group}"}
"#;
        let helper = r#"
flow: make-team
inputs:
  name: {type: string}
steps:
  - id: add
    card: grant.add
    with: {connection: okta, who: kim, resource: "team-${inputs.name}"}
  - id: back
    return: {group: "team-${inputs.name}", plan: "${steps.add.plan}"}
"#;
        let rt = runtime(
            &store,
            &host,
            &http,
            flows(&[("main.yaml", main), ("helper.yaml", helper)]),
            "w",
        );
        let id = started(&rt, "main", manual(json!({"team": "sales"}))).await;
        let outcome = rt.run_now(&id).await.unwrap().unwrap();
        assert_eq!(outcome.state, FlowRunState::Succeeded, "{outcome:?}");
        assert_eq!(
            outcome.output,
            Some(json!({"count": 3, "greeting": "hi bob of sales", "group": "team-sales"}))
        );
        let paths: Vec<String> = store
            .flow_steps(&id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.path)
            .collect();
        for expected in [
            "each[0]/greet",
            "each[2]/greet",
            "pick/sales/made/add",
            "pick/sales/made",
            "pick",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} missing from {paths:?}"
            );
        }
    }
}

/// The problems a flow file is refused with, each as `file:line:column: message`.
struct Problems(Vec<String>);

impl Problems {
    fn of(path: &str, text: &str) -> Self {
        let error = FlowSet::from_sources(vec![(PathBuf::from(path), text.into())]).unwrap_err();
        Self(error.0.iter().map(|d| d.to_string()).collect())
    }

    /// One problem says `needle` at the position `at` (a prefix such as `flows/x.yaml:7:`).
    fn expect(&self, needle: &str, at: &str) {
        assert!(
            self.0
                .iter()
                .any(|l| l.contains(needle) && l.starts_with(at)),
            "no `{needle}` at {at} in:\n{}",
            self.0.join("\n")
        );
    }

    fn count(&self, expected: usize) {
        assert_eq!(self.0.len(), expected, "{}", self.0.join("\n"));
    }
}

#[test]
fn every_mistake_in_a_flow_file_is_reported_at_its_place() {
    let text = r#"flow: broken
trigger: {manual: {}}
inputs:
  names: {type: list}
steps:
  - id: user
    card: person.gett
  - id: user2
    card: person.get
    with: {who: "${inputs.nobody}"}
  - id: early
    card: set
    with: {x: "${steps.later.value}"}
  - id: later
    card: json.parse
    with: {text: "${inputs.names}"}
  - id: typed
    card: json.parse
    with: {text: "${steps.names.list}"}
  - id: names
    card: date.add
    with: {days: 1, weeks: 2}
  - id: bad_field
    card: set
    with: {y: "${steps.names.nope}"}
"#;
    let problems = Problems::of("flows/broken.yaml", text);
    let expect = |needle: &str, at: &str| problems.expect(needle, at);
    expect(
        "unknown card `person.gett`; did you mean `person.get`?",
        "flows/broken.yaml:7:11",
    );
    expect("the flow has no input `nobody`", "flows/broken.yaml:10:17");
    expect(
        "`steps.later` is read before step `later` has run",
        "flows/broken.yaml:13:15",
    );
    expect(
        "card `json.parse` takes text as `text`, but this value is a list",
        "flows/broken.yaml:16:18",
    );
    expect(
        "`steps.names` is read before step `names` has run",
        "flows/broken.yaml:19:18",
    );
    expect(
        "card `date.add` takes no `weeks`",
        "flows/broken.yaml:22:28",
    );
    expect("step `names` gives no `nope`", "flows/broken.yaml:25:15");
    problems.count(7);
}

#[test]
fn a_wait_for_an_event_is_checked_like_an_okta_trigger_and_needs_a_timeout() {
    let text = r#"flow: waits
trigger: {manual: {}}
steps:
  - id: no_timeout
    wait: {event: {okta: user_activated}}
  - id: unknown_event
    wait: {event: {okta: user_teleported}, timeout: 1h}
  - id: both
    wait: {for: 1h, event: {okta: user_activated}, timeout: 1h}
  - id: bad_who
    wait: {event: {okta: user_activated}, timeout: 1h, who: "${inputs.nobody}"}
  - id: fine
    wait: {event: {okta: user_added_to_group, group: Engineering}, timeout: 3d}
  - id: reads
    card: set
    with: {login: "${steps.fine.event.user.login}", nope: "${steps.fine.nothing}"}
"#;
    let problems = Problems::of("flows/waits.yaml", text);
    let expect = |needle: &str, at: &str| problems.expect(needle, at);
    expect("a wait for an event needs a timeout", "flows/waits.yaml:4:");
    expect(
        "unknown Okta event `user_teleported`",
        "flows/waits.yaml:7:",
    );
    expect(
        "wait takes one of for:, until: or event:",
        "flows/waits.yaml:8:",
    );
    expect("the flow has no input `nobody`", "flows/waits.yaml:11:");
    expect("step `fine` gives no `nothing`", "flows/waits.yaml:16:");
    problems.count(5);
}

/// An HTTP connection's bound on calls in flight holds across concurrent cards (every run of every flow
/// shares it), and calls over the bound wait their turn rather than fail.
#[tokio::test]
async fn an_http_connection_never_has_more_calls_in_flight_than_its_bound() {
    #[derive(Default)]
    struct Load {
        now: AtomicUsize,
        most: AtomicUsize,
    }
    async fn slow(State(load): State<Arc<Load>>) -> &'static str {
        let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
        load.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        load.now.fetch_sub(1, Ordering::SeqCst);
        "done"
    }
    let load = Arc::new(Load::default());
    let app = axum::Router::new()
        .route("/slow", get(slow))
        .with_state(load.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let connection: HttpConnection = serde_json::from_value(json!({
        "allowed_hosts": [address.to_string()],
        "base_url": format!("http://{address}"),
        "max_in_flight": 2,
    }))
    .unwrap();
    let cards = HttpCards::new(
        BTreeMap::from([("slow".to_string(), connection)]),
        PathBuf::from("."),
    );
    let input = json!({"connection": "slow", "method": "GET", "url": "/slow"});
    let calls = futures::future::join_all((0..8).map(|n| {
        let cards = &cards;
        let input = &input;
        async move { cards.call(input, &format!("key-{n}")).await }
    }))
    .await;
    for call in &calls {
        let output = call.as_ref().expect("every call is made, in its turn");
        assert_eq!(output["status"], 200);
    }
    assert_eq!(
        load.most.load(Ordering::SeqCst),
        2,
        "calls in flight at once"
    );
}

/// A flow of one `set` card.
const ONE_SET_CARD: &str =
    "flow: f\ntrigger: {manual: {}}\nsteps:\n  - id: a\n    card: set\n    with: {x: 1}\n";

/// A `set` step's row as a run writes it when the step has ended.
fn set_step<'a>(
    path: &'a str,
    output: &'a Json,
    audit: Option<Json>,
) -> grantflow_store::StepWrite<'a> {
    grantflow_store::StepWrite {
        path,
        step: path,
        card: "set",
        state: grantflow_store::FlowStepState::Succeeded,
        attempts: 1,
        input: None,
        output: Some(output),
        error: None,
        effect: None,
        started_at: chrono::Utc::now(),
        audit,
        actor: "cli:test",
    }
}

mod leases;
