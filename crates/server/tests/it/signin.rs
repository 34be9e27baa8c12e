//! People sign in to the server through Okta (the emulator's authorization
//! server, authorization code with PKCE), get their roles from their Okta
//! groups, and use the API with a session cookie whose changes need the
//! CSRF token. Failed sign-ins are audited without secrets.

use std::collections::BTreeMap;

use grantflow_sandbox::okta::{OidcApp, SANDBOX_PASSWORD};
use grantflow_server::ServeOptions;
use grantflow_service::config::{NewConnection, new_config};
use grantflow_service::signin::{SignIn, SignInConfig};
use grantflow_service::{Config, Service};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::kit::{PERSON, REQUEST};

const CLIENT_ID: &str = "0oagrantflowserver001";
const SECRET: &str = "client-secret-of-the-grantflow-server";

struct SignedInWorld {
    base: String,
    okta: String,
    service_store: grantflow_store::Store,
    _running: grantflow_server::Running,
    _sandbox: grantflow_sandbox::RunningSandbox,
    _dir: tempfile::TempDir,
}

async fn world() -> SignedInWorld {
    // The callback must be registered with Okta before the server runs: take a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let mut org = grantflow_sandbox::demo_org();
    let app: OidcApp = serde_json::from_value(json!({
        "client_id": CLIENT_ID, "client_secret": SECRET,
        "redirect_uris": [callback], "label": "grantflow",
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
    let text = new_config(
        &[connection],
        "okta",
        dir.path(),
        serde_json::Map::new(),
        "sign-in tests",
    )
    .expect("config");
    let path = dir.path().join("grantflow.yaml");
    std::fs::write(&path, text).expect("write config");
    std::fs::create_dir_all(dir.path().join("policies")).expect("policies");
    let mut config = Config::load(&path).expect("load config");
    config.database = format!("sqlite://{}", dir.path().join("grantflow.db").display());
    // The demo org's groups: Production Access Demo (sam), Platform (okta-demo-user, sam),
    // Engineering (lena); olivia is in none of these.
    let sign_in: SignInConfig = serde_saphyr::from_str(&format!(
        "issuer: {}/oauth2/default\nclient_id: {CLIENT_ID}\nclient_secret_env: UNUSED_IN_THIS_TEST\n\
         redirect_uri: {callback}\n\
         roles:\n  admin: [Production Access Demo]\n  requester: [Platform]\n  viewer: [Engineering]\n",
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
    let store = service.store.clone();
    let running = grantflow_server::start_with_sign_in(
        service,
        ServeOptions {
            listen: format!("127.0.0.1:{port}"),
            sync_interval_seconds: 0,
            drift_interval_seconds: 0,
            worker: None,
        },
        Some(client),
    )
    .await
    .expect("server");
    SignedInWorld {
        base: format!("http://{}", running.address),
        okta: okta.base_url,
        service_store: store,
        _running: running,
        _sandbox: sandbox,
        _dir: dir,
    }
}

/// A browser without JavaScript: no automatic redirects, cookies by hand.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` line seen, to check their attributes.
    set_cookie_lines: Vec<String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            set_cookie_lines: Vec::new(),
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for line in response.headers().get_all("set-cookie") {
            let line = line.to_str().expect("ascii cookie").to_string();
            let pair = line.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
            self.set_cookie_lines.push(line);
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("answer");
        self.remember(&response);
        response
    }

    async fn post(&mut self, url: &str, csrf: bool, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.post(url).header("cookie", self.cookie_header());
        if csrf {
            let token = self
                .cookies
                .get("__Host-grantflow-csrf")
                .cloned()
                .unwrap_or_default();
            request = request.header("x-csrf-token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answer");
        self.remember(&response);
        response
    }

    fn attributes_of(&self, cookie: &str) -> String {
        self.set_cookie_lines
            .iter()
            .rev()
            .find(|line| line.starts_with(&format!("{cookie}=")) && !line.contains("Max-Age=0"))
            .cloned()
            .unwrap_or_else(|| panic!("no Set-Cookie for {cookie}: {:?}", self.set_cookie_lines))
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_string()
}

/// From `/auth/login` through Okta's sign-in page back to the callback;
/// returns the callback's answer.
async fn sign_in(world: &SignedInWorld, browser: &mut Browser, login: &str) -> reqwest::Response {
    let start = browser.get(&format!("{}/auth/login", world.base)).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = location(&start);
    assert!(authorize.starts_with(&world.okta), "{authorize}");
    let page = browser.get(&authorize).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    let marker = "name=\"transaction\" value=\"";
    let at = page.find(marker).expect("the sign-in form") + marker.len();
    let transaction = page[at..]
        .split('"')
        .next()
        .expect("transaction")
        .to_string();
    let back = browser
        .http
        .post(format!("{}/login/signin", world.okta))
        .form(&[
            ("transaction", transaction.as_str()),
            ("username", login),
            ("password", SANDBOX_PASSWORD),
        ])
        .send()
        .await
        .expect("sign-in page answers");
    assert_eq!(back.status(), StatusCode::FOUND, "{login}");
    let callback = location(&back);
    assert!(callback.starts_with(&format!("{}/auth/callback?", world.base)));
    browser.get(&callback).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_through_okta_and_works_with_the_roles_their_groups_give() {
    let world = world().await;
    let mut sam = Browser::new();
    let done = sign_in(&world, &mut sam, "sam.okafor@example.com").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let session = sam.attributes_of("__Host-grantflow-session");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    let csrf = sam.attributes_of("__Host-grantflow-csrf");
    assert!(
        csrf.contains("Secure") && csrf.contains("SameSite=Strict") && !csrf.contains("HttpOnly"),
        "{csrf}"
    );

    let me: Value = sam
        .get(&format!("{}/api/v1/me", world.base))
        .await
        .json()
        .await
        .expect("me");
    assert_eq!(me["actor"], "oidc:sam.okafor@example.com", "{me}");
    let roles = me["roles"].to_string();
    assert!(
        roles.contains("admin") && roles.contains("requester"),
        "{me}"
    );

    // A change from the browser needs the CSRF token a cross-site form cannot send.
    let plans = format!("{}/api/v1/plans", world.base);
    let forged = sam
        .post(&plans, false, Some(json!({ "request": REQUEST })))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged: Value = forged.json().await.expect("problem");
    assert_eq!(forged["code"], "csrf_failed", "{forged}");
    let proposed = sam
        .post(&plans, true, Some(json!({ "request": REQUEST })))
        .await;
    assert!(
        proposed.status().is_success(),
        "{:?}",
        proposed.text().await
    );

    // Signing out ends the session (and needs the CSRF token as well).
    let logout = format!("{}/auth/logout", world.base);
    assert_eq!(
        sam.post(&logout, false, None).await.status(),
        StatusCode::FORBIDDEN
    );
    let kept = sam.cookies.clone();
    assert_eq!(
        sam.post(&logout, true, None).await.status(),
        StatusCode::NO_CONTENT
    );
    sam.cookies = kept;
    let after = sam.get(&format!("{}/api/v1/me", world.base)).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // A viewer signs in and may read but not propose.
    let mut lena = Browser::new();
    assert_eq!(
        sign_in(&world, &mut lena, "lena.fischer@example.com")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let person = lena
        .get(&format!("{}/api/v1/people/{PERSON}", world.base))
        .await;
    assert_eq!(person.status(), StatusCode::OK);
    let refused = lena
        .post(&plans, true, Some(json!({ "request": REQUEST })))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let events = world.service_store.audit_events().await.expect("events");
    let signed_in: Vec<&str> = events
        .iter()
        .filter(|e| e.action == "signin.succeeded")
        .map(|e| e.actor.as_str())
        .collect();
    assert_eq!(
        signed_in,
        [
            "oidc:sam.okafor@example.com",
            "oidc:lena.fischer@example.com"
        ]
    );
    assert!(events.iter().any(|e| e.action == "signin.signed_out"));
    assert!(
        events
            .iter()
            .any(|e| e.actor == "oidc:sam.okafor@example.com" && e.action.starts_with("plan.")),
        "the plan is recorded as the signed-in person's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_sign_ins_are_audited_and_give_no_session() {
    let world = world().await;
    // In no group that maps to a role.
    let mut olivia = Browser::new();
    let answer = sign_in(&world, &mut olivia, "olivia.smith@example.com").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(!olivia.cookies.contains_key("__Host-grantflow-session"));

    // The provider's answer replayed: the sign-in was used up.
    let mut sam = Browser::new();
    let start = sam.get(&format!("{}/auth/login", world.base)).await;
    let authorize = location(&start);
    let page = sam.get(&authorize).await.text().await.expect("page");
    let marker = "name=\"transaction\" value=\"";
    let at = page.find(marker).expect("form") + marker.len();
    let transaction = page[at..]
        .split('"')
        .next()
        .expect("transaction")
        .to_string();
    let back = sam
        .http
        .post(format!("{}/login/signin", world.okta))
        .form(&[
            ("transaction", transaction.as_str()),
            ("username", "sam.okafor@example.com"),
            ("password", SANDBOX_PASSWORD),
        ])
        .send()
        .await
        .expect("sign-in");
    let callback = location(&back);
    let signin_cookie = sam.cookies.clone();
    assert_eq!(sam.get(&callback).await.status(), StatusCode::SEE_OTHER);
    sam.cookies = signin_cookie;
    let replayed = sam.get(&callback).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let problem: Value = replayed.json().await.expect("problem");
    assert_eq!(problem["code"], "sign_in_failed", "{problem}");

    // A callback this browser never started.
    let mut stranger = Browser::new();
    let forged = stranger
        .get(&format!("{}/auth/callback?code=abc&state=def", world.base))
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    let events = world.service_store.audit_events().await.expect("events");
    let failed: Vec<&grantflow_store::AuditEvent> = events
        .iter()
        .filter(|e| e.action == "signin.failed")
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|e| e.actor == "oidc:olivia.smith@example.com")
    );
    let code = url::Url::parse(&callback)
        .expect("callback url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let trail = serde_json::to_string(&events.iter().map(|e| &e.details).collect::<Vec<_>>())
        .expect("json");
    for secret in [code.as_str(), SECRET, SANDBOX_PASSWORD] {
        assert!(!trail.contains(secret), "the audit trail holds a secret");
    }
}
