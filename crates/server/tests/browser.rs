//! The web console in a real browser: headless Chromium (Debian's
//! `chromium`) driven by Playwright for Python (`console-tests/`, pinned in
//! `console-tests/requirements.txt`, installed in `target/console-venv`;
//! Playwright's own browsers are never downloaded). The server runs here
//! over the sandbox, with sign-in through the Okta emulator; each browser
//! test keeps a screenshot in `target/console-screenshots/`. The configuration
//! has the demo's production-reach data, for the reach explorer, and a flow
//! to run from the Workflows page.
//!
//! Without Chromium (or without python3) the test says it was skipped and
//! passes, like the PostgreSQL tests; `.ci/run` installs Chromium.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use grantflow_sandbox::okta::{OidcApp, SANDBOX_PASSWORD};
use grantflow_server::ServeOptions;
use grantflow_service::config::{NewConnection, new_config};
use grantflow_service::signin::{SignIn, SignInConfig};
use grantflow_service::{Config, Service};
use secrecy::SecretString;
use serde_json::json;

const CLIENT_ID: &str = "0oagrantflowconsole01";
const SECRET: &str = "client-secret-of-the-grantflow-console";

/// Reports drift on the Payments Oncall group, so that a member added by
/// hand is a finding.
const POLICY: &str = "policies:\n  - name: payments-oncall\n    when: person.department == \"Payments\"\n    grants:\n      - { system: okta, resource: group/Payments Oncall }\n";

/// A flow an administrator runs from the Workflows page: `set` and `person.get` read the demo org, a
/// branch on what they read, and a last card Okta refuses (unlocking a suspended user: E0000032).
const UNLOCK_FLOW: &str = r#"flow: check-and-unlock
description: Reads a person from the directory, then asks Okta to unlock their account.
trigger:
  manual: {}
inputs:
  who: {type: string, default: chen.wei@example.com}
steps:
  - id: note
    card: set
    with: {asked_for: "${inputs.who}"}
  - id: person
    card: person.get
    with: {who: "${inputs.who}"}
  - id: active
    if: "steps.person.active"
    then:
      - id: fine
        card: set
        with: {state: "${steps.person.status}"}
    else:
      - id: why
        card: set
        with: {state: "${steps.person.status}"}
  - id: unlock
    card: account.action
    with: {connection: okta, verb: unlock, who: "${inputs.who}"}
"#;

/// Who is added to Payments Oncall by hand (an engineer, not in Payments).
const HAND_ADDED: &str = "tom.baker@example.com";

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// Chromium, where Debian's package puts it (or `GRANTFLOW_CHROMIUM`).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("GRANTFLOW_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.exists().then_some(path)
}

/// `target/console-venv` with console-tests/requirements.txt installed.
fn venv_python(root: &Path) -> PathBuf {
    grantflow_sandbox::venv::python_venv(root, "console-tests/requirements.txt", "console-venv")
        .expect("the console venv")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_chromium() {
    let Some(chromium) = chromium() else {
        println!("skipped: Chromium is not installed (apt-get install chromium; .ci/run does)");
        return;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        println!("skipped: python3 is not installed");
        return;
    }
    let root = workspace_root();
    let python = tokio::task::spawn_blocking({
        let root = root.clone();
        move || venv_python(&root)
    })
    .await
    .expect("venv");

    // The callback must be registered with Okta before the server runs: take a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/auth/callback");
    let mut org = grantflow_sandbox::demo_org();
    let app: OidcApp = serde_json::from_value(json!({
        "client_id": CLIENT_ID, "client_secret": SECRET,
        "redirect_uris": [callback], "label": "grantflow console",
    }))
    .expect("oidc app");
    org.okta.oidc_apps.push(app);
    let sandbox = grantflow_sandbox::start(&org, grantflow_sandbox::SandboxOptions::default())
        .await
        .expect("sandbox");
    let okta = sandbox.info.systems.get("okta").expect("okta").clone();
    let dir = tempfile::tempdir().expect("tempdir");
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
    // The demo's production-reach data, so the reach explorer has paths to draw.
    grantflow_sandbox::demo_reach::write_files(&dir.path().join("reach")).expect("reach files");
    let mut reach: serde_json::Value =
        serde_saphyr::from_str(grantflow_sandbox::demo_reach::CONFIG).expect("reach config");
    reach["sources"]["root"] = "reach".into();
    let mut extra = serde_json::Map::new();
    extra.insert("reachability".into(), reach);
    let text = new_config(
        &[connection],
        "okta",
        dir.path(),
        extra,
        "console browser tests",
    )
    .expect("config");
    let path = dir.path().join("grantflow.yaml");
    std::fs::write(&path, text).expect("write config");
    std::fs::create_dir_all(dir.path().join("policies")).expect("policies");
    std::fs::write(dir.path().join("policies/payments.yaml"), POLICY).expect("policy");
    std::fs::create_dir_all(dir.path().join("flows")).expect("flows");
    std::fs::write(dir.path().join("flows/unlock.yaml"), UNLOCK_FLOW).expect("flow");
    let mut config = Config::load(&path).expect("load config");
    config.database = format!("sqlite://{}", dir.path().join("grantflow.db").display());
    // The demo org's groups: Production Access Demo (sam), Platform (okta-demo-user, sam, …),
    // Engineering (lena, …), Finance (hannah, …).
    let sign_in: SignInConfig = serde_saphyr::from_str(&format!(
        "issuer: {}/oauth2/default\nclient_id: {CLIENT_ID}\nclient_secret_env: UNUSED_IN_THIS_TEST\n\
         redirect_uri: {callback}\n\
         roles:\n  admin: [Production Access Demo]\n  requester: [Platform]\n  viewer: [Engineering]\n  auditor: [Finance]\n",
        okta.base_url
    ))
    .expect("sign-in config");
    let client = SignIn::discover_with_secret(&sign_in, SecretString::from(SECRET))
        .await
        .expect("discovery");
    config.sign_in = Some(sign_in);
    let service = Service::open(config).await.expect("service");
    service
        .sync(
            &grantflow_service::Actor::system("test"),
            None,
            false,
            &grantflow_service::sync::Quiet,
        )
        .await
        .expect("sync");
    let running = grantflow_server::start_with_sign_in(
        service,
        ServeOptions {
            listen: format!("127.0.0.1:{port}"),
            sync_interval_seconds: 0,
            drift_interval_seconds: 0,
            worker: Some(grantflow_service::ApplyOptions::default()),
        },
        Some(client),
    )
    .await
    .expect("server");

    let screenshots = root.join("target/console-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshots dir");
    let info = dir.path().join("console-info.json");
    std::fs::write(
        &info,
        serde_json::to_vec_pretty(&json!({
            "base": base,
            "okta": okta.base_url,
            "okta_admin": okta.admin_url,
            "password": SANDBOX_PASSWORD,
            "chromium": chromium,
            "hand_added": HAND_ADDED,
            "screenshots": screenshots,
        }))
        .expect("json"),
    )
    .expect("write info");
    let output = tokio::task::spawn_blocking({
        let root = root.clone();
        move || {
            Command::new(&python)
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
                .arg(root.join("console-tests"))
                .env("CONSOLE_INFO", &info)
                .stdin(Stdio::null())
                .output()
                .expect("pytest runs")
        }
    })
    .await
    .expect("pytest");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    running.stop().await.expect("server stops");
    drop(sandbox);
    assert!(
        output.status.success(),
        "the browser tests failed (screenshots in {})",
        screenshots.display()
    );
}
