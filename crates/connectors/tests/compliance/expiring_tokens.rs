//! Credentials for long-running use: Google's service account with domain-wide delegation and Salesforce's JWT
//! bearer flow against emulators whose tokens expire. The sandbox and the connector read one manual clock, so a
//! test crosses an expiry by moving it: the connector renews a token shortly before it expires (no call carries
//! a dead one), renews once more when the API refuses a token it thought alive, and counts exactly the token
//! requests that takes. A key, issuer or subject the vendor does not accept is an `Unauthorized` naming the
//! connection and the vendor's code, and no key or token shows in an error.

use std::sync::Arc;

use grantflow_connectors::google::{GoogleConfig, GoogleConnector};
use grantflow_connectors::salesforce::{SalesforceConfig, SalesforceConnector};
use grantflow_connectors::{Applied, BuildContext, Connector, Failure, SecretSource};
use grantflow_model::ConnectionName;
use grantflow_sandbox::SandboxOptions;
use serde_json::{Value, json};

use crate::sandbox::Sandbox;

/// The sandbox's manual clock, read by the connector too.
#[derive(Clone)]
struct Shared(grantflow_sandbox::ManualClock);

impl grantflow_model::Clock for Shared {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        grantflow_sandbox::Clock::now(&self.0)
    }
}

impl Shared {
    fn advance(&self, seconds: i64) {
        self.0.advance(chrono::Duration::seconds(seconds));
    }
}

async fn start(kind: &'static str) -> (Sandbox, Shared) {
    let clock = Shared(grantflow_sandbox::ManualClock::new(chrono::Utc::now()));
    let sandbox = Sandbox::start_with(
        kind,
        SandboxOptions {
            clock: Some(Arc::new(clock.0.clone())),
            ..SandboxOptions::default()
        },
    )
    .await;
    (sandbox, clock)
}

fn context(clock: &Shared) -> BuildContext {
    let mut context = Sandbox::context();
    context.clock = Arc::new(clock.clone());
    context
}

/// `GET /__sandbox/tokens`: `issued`, `refused`, `expired_presented`.
async fn tokens(sandbox: &Sandbox) -> Value {
    sandbox.admin_get("tokens", &[]).await
}

/// A new file holding `value` (each call its own, so configs built together keep their own secrets).
fn secret_file(sandbox: &Sandbox, name: &str, value: &str) -> SecretSource {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "grantflow-creds-{}-{n}-{name}",
        sandbox.base_url().replace([':', '/', '.'], "_")
    ));
    std::fs::write(&path, value).expect("secret file");
    SecretSource {
        env: None,
        file: Some(path),
    }
}

fn setting(sandbox: &Sandbox, name: &str) -> String {
    sandbox.info().settings[name]
        .as_str()
        .expect("setting")
        .to_string()
}

fn google_config(sandbox: &Sandbox, key_json: &str, subject: &str) -> GoogleConfig {
    let mut config: GoogleConfig = serde_json::from_value(json!({
        "base_url": sandbox.base_url(),
        "subject": subject,
        "timeout_seconds": 10,
    }))
    .expect("config");
    config.service_account_key = Some(secret_file(sandbox, "key.json", key_json));
    config
}

fn google(clock: &Shared, config: &GoogleConfig) -> GoogleConnector {
    GoogleConnector::new(ConnectionName::new("gw"), config, &context(clock)).expect("connector")
}

/// The failure's every rendering, for checks that nothing secret is in it.
fn rendered(failure: &Failure) -> String {
    format!("{failure} {failure:?}")
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    for secret in secrets {
        assert!(!text.contains(secret), "a secret in: {text}");
    }
}

#[tokio::test]
async fn a_google_service_account_token_is_renewed_before_expiry_and_once_after_a_401() {
    let (sandbox, clock) = start("google").await;
    let key = sandbox.credential_value("service_account_key");
    let config = google_config(&sandbox, &key, &setting(&sandbox, "subject"));
    let connector = google(&clock, &config);

    let snapshot = sandbox.sync(&connector).await;
    let after_first = tokens(&sandbox).await;
    assert_eq!(after_first["issued"], 1, "{after_first}");
    sandbox.sync(&connector).await;
    assert_eq!(tokens(&sandbox).await["issued"], 1, "the token is reused");

    // 30 s before the hour: inside the renewal margin, so the next call mints first and never sends a token
    // that would die in flight.
    clock.advance(3600 - 30);
    sandbox.sync(&connector).await;
    let renewed = tokens(&sandbox).await;
    assert_eq!(renewed["issued"], 2, "{renewed}");
    assert_eq!(renewed["expired_presented"], 0, "{renewed}");

    // Google ends the token early (revoked): the write is refused with 401, the token minted again, the write
    // sent once more, and it takes effect.
    sandbox.admin("tokens", json!({"expire_now": true})).await;
    let add = sandbox.grant(
        &snapshot,
        true,
        "okta-demo-user@example.com",
        ("group", "platform@example.com"),
        "member",
    );
    assert_eq!(
        connector.apply(&add).await.expect("applied"),
        Applied::Changed
    );
    let after = tokens(&sandbox).await;
    assert_eq!(after["issued"], 3, "{after}");
    assert_eq!(after["expired_presented"], 1, "{after}");
    assert_eq!(after["refused"], 0, "{after}");
}

#[tokio::test]
async fn google_refuses_a_wrong_key_subject_or_scope_with_its_code_and_no_secret_leaks() {
    let (sandbox, clock) = start("google").await;
    let key = sandbox.credential_value("service_account_key");
    let subject = setting(&sandbox, "subject");
    let mut parsed: Value = serde_json::from_str(&key).expect("key file");
    let other = grantflow_sandbox::okta::ServiceKey::generate("other").expect("key");
    parsed["private_key"] = other.private_pem.clone().into();
    let wrong_key = parsed.to_string();

    let cases: [(GoogleConfig, &str, &str); 3] = [
        (
            google_config(&sandbox, &wrong_key, &subject),
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
        (
            google_config(&sandbox, &key, "nobody@example.com"),
            "invalid_grant",
            "Invalid email or User ID",
        ),
        (
            GoogleConfig {
                scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
                ..google_config(&sandbox, &key, &subject)
            },
            "unauthorized_client",
            "Client is unauthorized",
        ),
    ];
    for (config, code, words) in cases {
        let connector = google(&clock, &config);
        let failure = connector.health().await.expect_err("refused");
        let text = rendered(&failure);
        assert!(
            matches!(&failure, Failure::Unauthorized { vendor_code: Some(c), .. } if c == code),
            "{text}"
        );
        assert!(
            text.contains("connection gw") && text.contains(words),
            "{text}"
        );
        assert_no_secret(&text, &[&other.private_pem[40..80], &key[200..240]]);
    }
    assert_eq!(tokens(&sandbox).await["refused"], 3);
    assert_eq!(tokens(&sandbox).await["issued"], 0);

    let both: Result<GoogleConfig, _> = serde_json::from_value(json!({
        "base_url": sandbox.base_url(), "subject": subject,
        "token": {"env": "X"}, "service_account_key": {"env": "Y"},
    }));
    let failure = GoogleConnector::new(
        ConnectionName::new("gw"),
        &both.expect("parses"),
        &context(&clock),
    )
    .err()
    .expect("refused");
    assert!(matches!(failure, Failure::Config { .. }), "{failure}");
}

fn salesforce_config(sandbox: &Sandbox, username: &str, consumer_key: &str) -> SalesforceConfig {
    let mut config: SalesforceConfig = serde_json::from_value(json!({
        "base_url": sandbox.base_url(),
        "consumer_key": consumer_key,
        "username": username,
        "login_url": setting(sandbox, "login_url"),
        "ca_certificate": sandbox.info().ca_certificate,
        "session_timeout_seconds": 3600,
        "timeout_seconds": 10,
    }))
    .expect("config");
    config.private_key = Some(secret_file(
        sandbox,
        "sf.pem",
        &sandbox.credential_value("private_key"),
    ));
    config
}

fn salesforce(clock: &Shared, config: &SalesforceConfig) -> SalesforceConnector {
    SalesforceConnector::new(ConnectionName::new("sf"), config, &context(clock)).expect("connector")
}

#[tokio::test]
async fn a_salesforce_session_is_reopened_before_its_timeout_and_on_invalid_session_id() {
    let (sandbox, clock) = start("salesforce").await;
    let config = salesforce_config(
        &sandbox,
        &setting(&sandbox, "username"),
        &setting(&sandbox, "consumer_key"),
    );
    let connector = salesforce(&clock, &config);

    let snapshot = sandbox.sync(&connector).await;
    assert_eq!(tokens(&sandbox).await["issued"], 1);
    clock.advance(3600 - 30);
    sandbox.sync(&connector).await;
    let renewed = tokens(&sandbox).await;
    assert_eq!(renewed["issued"], 2, "{renewed}");
    assert_eq!(renewed["expired_presented"], 0, "{renewed}");

    // The org's session timeout is shorter than the connection was told: the session dies unannounced, the
    // API answers 401 INVALID_SESSION_ID, and one new session carries the write through.
    sandbox
        .admin(
            "tokens",
            json!({"lifetime_seconds": 60, "expire_now": true}),
        )
        .await;
    let add = sandbox.grant(
        &snapshot,
        true,
        "new.hire@example.com",
        ("permission_set", "Sandbox_Deploy"),
        "assigned",
    );
    assert_eq!(
        connector.apply(&add).await.expect("applied"),
        Applied::Changed
    );
    let after = tokens(&sandbox).await;
    assert_eq!(after["issued"], 3, "{after}");
    assert_eq!(after["expired_presented"], 1, "{after}");
    clock.advance(61);
    sandbox.sync(&connector).await;
    let last = tokens(&sandbox).await;
    assert_eq!(last["issued"], 4, "{last}");
    assert_eq!(last["expired_presented"], 2, "{last}");
}

#[tokio::test]
async fn salesforce_refuses_an_unknown_user_or_app_with_its_code_and_no_secret_leaks() {
    let (sandbox, clock) = start("salesforce").await;
    let username = setting(&sandbox, "username");
    let consumer_key = setting(&sandbox, "consumer_key");
    let pem = sandbox.credential_value("private_key");
    for (config, code, words) in [
        (
            salesforce_config(&sandbox, "nobody@example.com", &consumer_key),
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
        (
            salesforce_config(&sandbox, &username, "3MVG9wrong"),
            "invalid_client_id",
            "client identifier invalid",
        ),
    ] {
        let failure = salesforce(&clock, &config)
            .health()
            .await
            .expect_err("refused");
        let text = rendered(&failure);
        assert!(
            matches!(&failure, Failure::Unauthorized { vendor_code: Some(c), .. } if c == code),
            "{text}"
        );
        assert!(
            text.contains("connection sf") && text.contains(words),
            "{text}"
        );
        assert_no_secret(&text, &[&pem[40..80]]);
    }
    // A private key that is not one is a Config error before anything is sent.
    let mut config = salesforce_config(&sandbox, &username, &consumer_key);
    config.private_key = Some(secret_file(
        &sandbox,
        "bad.pem",
        "-----BEGIN PRIVATE KEY-----\nnot-a-key\n",
    ));
    let failure = SalesforceConnector::new(ConnectionName::new("sf"), &config, &context(&clock))
        .err()
        .expect("refused");
    assert!(matches!(failure, Failure::Config { .. }), "{failure}");
    assert!(failure.to_string().contains("connection sf"), "{failure}");
    assert_eq!(tokens(&sandbox).await["issued"], 0);
}
