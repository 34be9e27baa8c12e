//! The `grantflow` binary against a server (`--server URL` and a token):
//! a server started in-process over the sandbox's Okta, a token per role
//! made through the service, and each command run as one of them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::Clock;
use grantflow_service::config::{NewConnection, new_config};
use grantflow_service::tokens::{self, TokenRequest};
use grantflow_service::{Actor, Role, Service};
use grantflow_store::Store;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::testkit::BIN;

const REQUEST: &str = "assign okta-demo-user@example.com to the Production Access Demo group";
const PERSON: &str = "okta-demo-user@example.com";
const GROUP: &str = "Production Access Demo";

/// The wall clock, moved forward on demand (to expire a token).
#[derive(Default)]
struct SkewedClock {
    ahead_ms: AtomicI64,
}

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.ahead_ms.load(Ordering::SeqCst))
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

struct Server {
    base: String,
    store: Store,
    clock: Arc<SkewedClock>,
    tokens: BTreeMap<&'static str, String>,
    sandbox: grantflow_sandbox::RunningSandbox,
    dir: tempfile::TempDir,
    _running: grantflow_server::Running,
}

const ROLES: [&str; 5] = ["admin", "approver", "requester", "viewer", "operator:okta"];

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = grantflow_sandbox::start(
            &grantflow_sandbox::demo_org(),
            grantflow_sandbox::SandboxOptions::default(),
        )
        .await
        .expect("sandbox");
        let okta = sandbox.info.systems.get("okta").expect("okta");
        let connection = NewConnection {
            name: "okta".into(),
            kind: "okta".into(),
            base_url: okta.base_url.clone(),
            credentials: okta
                .credentials
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect(),
            ca_certificate: okta.ca_certificate.clone(),
            settings: Default::default(),
        };
        grantflow_sandbox::demo_reach::write_files(&dir.path().join("reach")).expect("reach");
        let mut reach: Value =
            serde_saphyr::from_str(grantflow_sandbox::demo_reach::CONFIG).expect("reach config");
        reach["sources"]["root"] = "reach".into();
        let mut extra = serde_json::Map::new();
        extra.insert("reachability".into(), reach);
        let text =
            new_config(&[connection], "okta", dir.path(), extra, "CLI tests").expect("config");
        let path = dir.path().join("grantflow.yaml");
        std::fs::write(&path, text).expect("write config");
        std::fs::create_dir_all(dir.path().join("policies")).expect("policies");
        let mut config = grantflow_service::Config::load(&path).expect("load config");
        config.database = format!("sqlite://{}", dir.path().join("grantflow.db").display());
        let clock = Arc::new(SkewedClock::default());
        let service = Service::open_with_clock(config, clock.clone())
            .await
            .expect("service");
        let store = service.store.clone();
        let mut issued = BTreeMap::new();
        for role in ROLES {
            issued.insert(
                role,
                make_token(&store, &role.replace(':', "-"), role).await.1,
            );
        }
        let running = grantflow_server::start(
            service,
            grantflow_server::ServeOptions {
                listen: "127.0.0.1:0".into(),
                sync_interval_seconds: 0,
                drift_interval_seconds: 0,
                worker: Some(grantflow_service::ApplyOptions::default()),
            },
        )
        .await
        .expect("server");
        let server = Server {
            base: format!("http://{}", running.address),
            store,
            clock,
            tokens: issued,
            sandbox,
            dir,
            _running: running,
        };
        let sync = server.cli(Some("admin"), &["sync", "okta"]).await;
        assert_eq!(sync.code, 0, "{}", sync.all());
        assert!(sync.stdout.contains("synced okta (okta)"), "{}", sync.all());
        server
    }

    fn token(&self, role: &str) -> String {
        self.tokens.get(role).expect("a token for the role").clone()
    }

    /// `grantflow --server <base> ARGS` with the role's token in GRANTFLOW_TOKEN.
    async fn cli(&self, role: Option<&str>, args: &[&str]) -> Run {
        let token = role.map(|r| self.token(r));
        self.cli_with(token.as_deref(), &["--server", &self.base], args)
            .await
    }

    /// The binary with a token (or none) in GRANTFLOW_TOKEN; asserts the
    /// token never shows in its output.
    async fn cli_with(&self, token: Option<&str>, global: &[&str], args: &[&str]) -> Run {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .args(global)
            .arg("--quiet")
            .current_dir(self.dir.path())
            .env_remove("GRANTFLOW_CONFIG")
            .env_remove("GRANTFLOW_DATABASE")
            .env_remove("GRANTFLOW_SERVER")
            .env_remove("GRANTFLOW_TOKEN")
            .stdin(std::process::Stdio::null());
        if let Some(token) = token {
            command.env("GRANTFLOW_TOKEN", token);
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("joined")
            .expect("grantflow runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for secret in self.tokens.values().map(String::as_str).chain(token) {
            let hidden = secret.rsplit_once('_').map_or(secret, |(_, s)| s);
            assert!(
                !run.stdout.contains(hidden) && !run.stderr.contains(hidden),
                "a token shows in the output:\n{}",
                run.all()
            );
        }
        run
    }

    /// The Okta groups the sandbox says the person is in.
    async fn okta_groups(&self) -> Vec<String> {
        let okta = self.sandbox.info.systems.get("okta").expect("okta");
        let token = okta.credentials.get("token").expect("token");
        let client = okta.http_client().expect("client");
        let users: Value = client
            .get(format!("{}/api/v1/users/{PERSON}", okta.base_url))
            .header("Authorization", format!("SSWS {token}"))
            .send()
            .await
            .expect("okta")
            .json()
            .await
            .expect("json");
        let id = users["id"].as_str().expect("user id");
        let groups: Value = client
            .get(format!("{}/api/v1/users/{id}/groups", okta.base_url))
            .header("Authorization", format!("SSWS {token}"))
            .send()
            .await
            .expect("okta")
            .json()
            .await
            .expect("json");
        groups
            .as_array()
            .expect("groups")
            .iter()
            .filter_map(|g| g["profile"]["name"].as_str().map(String::from))
            .collect()
    }
}

/// A token for one role: (its id, the token).
async fn make_token(store: &Store, name: &str, role: &str) -> (String, String) {
    let setup = Actor::new("test:setup", [Role::Admin]);
    let created = tokens::create(
        store,
        &setup,
        &TokenRequest {
            name: name.to_string(),
            roles: vec![grantflow_service::access::parse_role(role).expect("role")],
            expires_in: Duration::from_secs(3_600),
            person: None,
        },
    )
    .await
    .expect("token");
    (
        created.record.id.clone(),
        created.token.expose_secret().to_string(),
    )
}

/// The plan id a `Plan p-… ` line names.
fn plan_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Plan "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a Plan line")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_people_request_approve_apply_through_the_api() {
    let server = Server::start().await;

    let me = server.cli(Some("viewer"), &["whoami"]).await;
    assert_eq!(me.code, 0, "{}", me.all());
    assert!(
        me.stdout
            .contains("token:viewer (viewer) on http://127.0.0.1:"),
        "{}",
        me.all()
    );

    // A viewer lists people (every page) and reads one person's access.
    let people = server.cli(Some("viewer"), &["people"]).await;
    assert_eq!(people.code, 0, "{}", people.all());
    assert!(people.stdout.contains(PERSON), "{}", people.all());
    let some = server.cli(Some("viewer"), &["people", "okta-demo"]).await;
    assert!(
        some.stdout.contains(PERSON) && some.stdout.contains("1 person(s)"),
        "{}",
        some.all()
    );
    let person = server.cli(Some("viewer"), &["person", PERSON]).await;
    assert_eq!(person.code, 0, "{}", person.all());
    assert!(person.stdout.contains("okta (okta)"), "{}", person.all());
    assert!(!person.stdout.contains(GROUP), "{}", person.all());
    let nobody = server
        .cli(Some("viewer"), &["person", "nobody@example.com"])
        .await;
    assert_eq!(nobody.code, 1, "{}", nobody.all());
    assert!(
        nobody.stderr.contains("HTTP 404 (code not_found)"),
        "{}",
        nobody.all()
    );

    // A requester asks in words; the plan is rendered as locally and waits for an approver.
    let asked = server.cli(Some("requester"), &["do", REQUEST]).await;
    assert_eq!(asked.code, 0, "{}", asked.all());
    assert!(
        asked.stdout.contains("+ group \"Production Access Demo\"")
            && asked.stdout.contains("Waits for approval"),
        "{}",
        asked.all()
    );
    let plan = plan_id(&asked.stdout);

    // An account action goes the same way: planned on the server, waiting for an approver.
    let reset = server
        .cli(Some("requester"), &["action", "okta", "reset_mfa", PERSON])
        .await;
    assert_eq!(reset.code, 0, "{}", reset.all());
    assert!(
        reset.stdout.contains("Waits for approval"),
        "{}",
        reset.all()
    );

    // A viewer may read it but not apply it: the forbidden problem's code, exit 1.
    let shown = server.cli(Some("viewer"), &["plan", "show", &plan]).await;
    assert_eq!(shown.code, 0, "{}", shown.all());
    assert!(shown.stdout.contains("Status: reviewed"), "{}", shown.all());
    let refused = server.cli(Some("viewer"), &["apply", &plan]).await;
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("refused:") && refused.stderr.contains("code forbidden"),
        "{}",
        refused.all()
    );
    // Applying before the approval is the server's refusal too.
    let early = server.cli(Some("operator:okta"), &["apply", &plan]).await;
    assert_eq!(early.code, 1, "{}", early.all());
    assert!(
        early.stderr.contains("code approval_required"),
        "{}",
        early.all()
    );

    let approved = server.cli(Some("approver"), &["approve", &plan]).await;
    assert_eq!(approved.code, 0, "{}", approved.all());
    assert!(
        approved.stdout.contains("approved by token:approver"),
        "{}",
        approved.all()
    );

    // The operator applies it; the CLI follows the progress to the report.
    let applied = server.cli(Some("operator:okta"), &["apply", &plan]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied.stdout.contains("Execution report for plan")
            && applied.stdout.contains("1 succeeded, 0 failed"),
        "{}",
        applied.all()
    );
    assert!(
        server.okta_groups().await.iter().any(|g| g == GROUP),
        "the sandbox's Okta has the membership"
    );
    let person = server.cli(Some("viewer"), &["person", PERSON]).await;
    assert!(person.stdout.contains(GROUP), "{}", person.all());
    let shown = server
        .cli(Some("viewer"), &["plan", "show", &plan, "--json"])
        .await;
    let shown: Value = serde_json::from_str(&shown.stdout).expect("plan JSON");
    assert_eq!(shown["status"], "finished", "{shown}");

    // Reach, drift findings and the audit trail through the API.
    let reach = server
        .cli(Some("viewer"), &["reach", "group", GROUP, "--json"])
        .await;
    assert_eq!(reach.code, 0, "{}", reach.all());
    let reach: Value = serde_json::from_str(&reach.stdout).expect("reach JSON");
    assert!(reach["services"].is_array(), "{reach}");
    let drift = server.cli(Some("viewer"), &["drift"]).await;
    assert_eq!(drift.code, 0, "{}", drift.all());
    assert!(
        drift.stdout.contains("No open drift findings"),
        "{}",
        drift.all()
    );
    let verify = server.cli(Some("admin"), &["audit", "verify"]).await;
    assert_eq!(verify.code, 0, "{}", verify.all());
    assert!(verify.stdout.starts_with("OK: "), "{}", verify.all());
    let export = server.cli(Some("admin"), &["audit", "export"]).await;
    assert_eq!(export.code, 0, "{}", export.all());
    let actors: Vec<(String, String)> = export
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["subject"].as_str().is_some_and(|s| s.starts_with(&plan)))
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (action, actor) in [
        ("plan.created", "token:requester"),
        ("plan.approved", "token:approver"),
        ("plan.queued", "token:operator-okta"),
    ] {
        assert!(
            actors.contains(&(action.to_string(), actor.to_string())),
            "{action} by {actor} in {actors:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_refuses_bad_tokens_files_and_plain_http() {
    let server = Server::start().await;

    // A revoked token: the unauthenticated problem, non-zero exit.
    let (id, revoked) = make_token(&server.store, "soon-revoked", "viewer").await;
    let setup = Actor::new("test:setup", [Role::Admin]);
    tokens::revoke(&server.store, &setup, &id)
        .await
        .expect("revoke");
    let run = server
        .cli_with(Some(&revoked), &["--server", &server.base], &["people"])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("the server did not accept the token (HTTP 401, code unauthenticated)")
            && run.stderr.contains("revoked"),
        "{}",
        run.all()
    );

    // No token at all: said before anything is sent.
    let run = server
        .cli_with(None, &["--server", &server.base], &["people"])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("GRANTFLOW_TOKEN"), "{}", run.all());

    // A token file others may read is refused; an owner-only one is used.
    let file = server.dir.path().join("viewer.token");
    std::fs::write(&file, format!("{}\n", server.token("viewer"))).expect("write");
    set_mode(&file, 0o644);
    let file_arg = file.to_str().expect("utf8");
    let global = ["--server", server.base.as_str(), "--token-file", file_arg];
    let run = server.cli_with(None, &global, &["whoami"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("refusing the token file") && run.stderr.contains("0644"),
        "{}",
        run.all()
    );
    set_mode(&file, 0o600);
    let run = server.cli_with(None, &global, &["whoami"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("token:viewer"), "{}", run.all());

    // Plain http to another machine is refused before any request.
    let run = server
        .cli_with(
            Some(&server.token("viewer")),
            &["--server", "http://example.com"],
            &["people"],
        )
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("refusing to send the API token over plain http to example.com"),
        "{}",
        run.all()
    );

    // Commands of the local store say they do not take --server.
    for args in [
        &["serve"][..],
        &["init"],
        &["audit", "checkpoint"],
        &["audit", "keygen"],
        &["sandbox", "up"],
    ] {
        let run = server.cli(Some("admin"), args).await;
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(
            run.stderr.contains("does not take --server"),
            "{args:?}: {}",
            run.all()
        );
    }

    // An expired token: the same problem, saying so.
    server
        .clock
        .ahead_ms
        .fetch_add(2 * 3_600_000, Ordering::SeqCst);
    let run = server.cli(Some("viewer"), &["people"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("code unauthenticated") && run.stderr.contains("expired"),
        "{}",
        run.all()
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// An administrator manages tokens, syncs in full and checks drift through the
/// API: the token is shown once and works at once, a revoked one stops at once.
#[tokio::test(flavor = "multi_thread")]
async fn remote_tokens_full_sync_and_drift_check() {
    let server = Server::start().await;

    let created = server
        .cli(
            Some("admin"),
            &[
                "token",
                "create",
                "--name",
                "ci-bot",
                "--role",
                "viewer",
                "--expires-in",
                "1d",
            ],
        )
        .await;
    assert_eq!(created.code, 0, "{}", created.all());
    let token = created.stdout.trim().to_string();
    assert!(token.starts_with("gft_"), "{}", created.all());
    let me = server
        .cli_with(Some(&token), &["--server", &server.base], &["whoami"])
        .await;
    assert!(me.stdout.contains("token:ci-bot (viewer)"), "{}", me.all());

    let listed = server.cli(Some("admin"), &["token", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert!(listed.stdout.contains("ci-bot"), "{}", listed.all());
    assert!(!listed.stdout.contains(&token), "never the secret");
    let id = token
        .strip_prefix("gft_")
        .and_then(|rest| rest.split('_').next())
        .expect("token id")
        .to_string();
    let revoked = server.cli(Some("admin"), &["token", "revoke", &id]).await;
    assert_eq!(revoked.code, 0, "{}", revoked.all());
    let refused = server
        .cli_with(Some(&token), &["--server", &server.base], &["whoami"])
        .await;
    assert_eq!(refused.code, 1, "{}", refused.all());
    let viewer = server.cli(Some("viewer"), &["token", "list"]).await;
    assert_eq!(viewer.code, 1, "{}", viewer.all());
    assert!(viewer.stderr.contains("forbidden"), "{}", viewer.all());

    let full = server.cli(Some("admin"), &["sync", "okta", "--full"]).await;
    assert_eq!(full.code, 0, "{}", full.all());
    assert!(full.stdout.contains("in full"), "{}", full.all());

    std::fs::write(
        server.dir.path().join("policies/payments.yaml"),
        "policies:\n  - name: payments-oncall\n    when: person.department == \"Payments\"\n    grants:\n      - { system: okta, resource: group/Payments Oncall }\n",
    )
    .expect("policy");
    let admin = server.token("admin");
    let checked: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/drift/check", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("drift check")
        .json()
        .await
        .expect("json");
    assert!(checked["findings"].is_u64(), "{checked}");
    let events = server.store.audit_events().await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.action == "sync.completed" && e.actor == "token:admin"),
        "the full sync is the admin's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_access_request_asked_listed_approved_and_applied() {
    let server = Server::start().await;
    let asked = server
        .cli(
            Some("requester"),
            &[
                "request",
                "ask",
                REQUEST,
                "--reason",
                "on call this week",
                "--duration",
                "2h",
            ],
        )
        .await;
    assert_eq!(asked.code, 0, "{}", asked.all());
    assert!(
        asked.stdout.contains("(pending)") && asked.stdout.contains("an approver"),
        "{}",
        asked.all()
    );
    let id = asked
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("r-"))
        .expect("the request's id")
        .to_string();
    // The requester cannot decide it; an approver sees it as theirs to review and approves it.
    let own = server
        .cli(Some("requester"), &["request", "approve", &id])
        .await;
    assert_eq!(own.code, 1, "{}", own.all());
    assert!(own.stderr.contains("self_approval"), "{}", own.all());
    let listed = server.cli(Some("approver"), &["request", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert!(
        listed.stdout.contains(&id) && listed.stdout.contains("yours to review"),
        "{}",
        listed.all()
    );
    let approved = server
        .cli(
            Some("approver"),
            &["request", "approve", &id, "--comment", "ok"],
        )
        .await;
    assert_eq!(approved.code, 0, "{}", approved.all());
    for _ in 0..40 {
        if server.okta_groups().await.iter().any(|g| g == GROUP) {
            let shown = server.cli(Some("admin"), &["request", "show", &id]).await;
            assert_eq!(shown.code, 0, "{}", shown.all());
            assert!(
                shown.stdout.contains("(active)") && shown.stdout.contains("request.approved"),
                "{}",
                shown.all()
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("the approved request was not applied");
}
