//! Sign-in with OpenID Connect against the Okta emulator, as grantflow's server will do it: discovery and
//! token verification by the `openidconnect` crate (a vendor-neutral client, so the emulator is held to the
//! standard), a browser played by reqwest, and roles from Okta group membership.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::collections::BTreeSet;

use grantflow_sandbox::okta::{OidcApp, SANDBOX_PASSWORD};
use grantflow_sandbox::{RunningSandbox, SandboxOptions, demo_org, start};
use grantflow_service::signin::{SIGN_IN_FAILED, SignInConfig};
use grantflow_service::{PendingSignIn, Role, ServiceError, SignIn};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use secrecy::SecretString;
use serde_json::json;

const CLIENT_ID: &str = "0oagrantflowweb00001";
const SECRET: &str = "s3cret-for-the-grantflow-web-app";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";

async fn okta() -> (RunningSandbox, String) {
    let mut org = demo_org();
    let app: OidcApp = serde_json::from_value(json!({
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uris": [CALLBACK],
        "label": "grantflow",
    }))
    .unwrap();
    org.okta.oidc_apps.push(app);
    let sb = start(&org, SandboxOptions::default()).await.unwrap();
    let base = sb.info.systems["okta"].base_url.clone();
    (sb, base)
}

/// The demo org's groups: Production Access Demo (sam, nina), Platform (okta-demo-user, sam, nina, …),
/// Engineering (lena, …), Payments Oncall (olivia, …).
fn config(issuer: &str) -> SignInConfig {
    serde_saphyr::from_str(&format!(
        "issuer: {issuer}\n\
         client_id: {CLIENT_ID}\n\
         client_secret_env: GRANTFLOW_TEST_UNUSED\n\
         redirect_uri: {CALLBACK}\n\
         roles:\n  admin: [Production Access Demo]\n  approver: [Platform]\n  viewer: [Engineering]\n\
         operators:\n  okta: [Platform]\n"
    ))
    .unwrap()
}

async fn sign_in(config: &SignInConfig) -> SignIn {
    SignIn::discover_with_secret(config, SecretString::from(SECRET))
        .await
        .unwrap()
}

/// A person's browser: follows the authorize URL, fills in the sign-in form, and returns what Okta sent
/// back to the callback (`code`, `state`).
async fn browser_signs_in(authorize: &url::Url, login: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = browser.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let marker = "name=\"transaction\" value=\"";
    let start = page.find(marker).expect("the sign-in form") + marker.len();
    let transaction = &page[start..start + page[start..].find('"').unwrap()];
    let action = authorize.join("/login/signin").unwrap();
    let back = browser
        .post(action)
        .form(&[
            ("transaction", transaction),
            ("username", login),
            ("password", SANDBOX_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::FOUND, "{login}");
    let location = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK));
    let field = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (field("code"), field("state"))
}

fn refusal_code(error: &ServiceError) -> &'static str {
    error.code()
}

#[tokio::test]
async fn people_get_the_roles_their_okta_groups_give() {
    let (_sb, base) = okta().await;
    let signin = sign_in(&config(&format!("{base}/oauth2/default"))).await;
    let cases = [
        (
            "sam.okafor@example.com",
            vec![Role::Admin, Role::Approver, Role::Operator("okta".into())],
        ),
        (
            "okta-demo-user@example.com",
            vec![Role::Approver, Role::Operator("okta".into())],
        ),
        ("lena.fischer@example.com", vec![Role::Viewer]),
        ("olivia.smith@example.com", vec![]),
    ];
    for (login, roles) in cases {
        let (url, pending) = signin.begin();
        let query: String = url.query().unwrap_or("").to_owned();
        assert!(query.contains("code_challenge_method=S256"), "{query}");
        assert!(
            query.contains("scope=openid+profile+email+groups"),
            "{query}"
        );
        let (code, state) = browser_signs_in(&url, login).await;
        let actor = signin.finish(&code, &state, pending).await.unwrap();
        assert_eq!(actor.id, format!("oidc:{login}"));
        assert_eq!(
            actor.roles,
            roles.into_iter().collect::<BTreeSet<_>>(),
            "{login}"
        );
    }
}

#[tokio::test]
async fn the_org_authorization_server_works_the_same() {
    let (_sb, base) = okta().await;
    let signin = sign_in(&config(&base)).await;
    let (url, pending) = signin.begin();
    assert!(
        url.as_str()
            .starts_with(&format!("{base}/oauth2/v1/authorize?"))
    );
    let (code, state) = browser_signs_in(&url, "lena.fischer@example.com").await;
    let actor = signin.finish(&code, &state, pending).await.unwrap();
    assert_eq!(actor.roles, BTreeSet::from([Role::Viewer]));
}

#[tokio::test]
async fn a_tampered_state_or_nonce_or_a_replayed_code_is_refused() {
    let (_sb, base) = okta().await;
    let signin = sign_in(&config(&format!("{base}/oauth2/default"))).await;

    // Another state than this browser's sign-in (a forged callback).
    let (url, pending) = signin.begin();
    let (code, _state) = browser_signs_in(&url, "sam.okafor@example.com").await;
    let refused = signin
        .finish(&code, "forged-state", pending.clone())
        .await
        .unwrap_err();
    assert_eq!(refusal_code(&refused), SIGN_IN_FAILED);
    assert!(refused.to_string().contains("state"), "{refused}");

    // The pending sign-in kept by the server, changed to expect another nonce.
    let (url, pending) = signin.begin();
    let (code, state) = browser_signs_in(&url, "sam.okafor@example.com").await;
    let mut kept = serde_json::to_value(&pending).unwrap();
    kept["nonce"] = json!("another-nonce");
    let tampered: PendingSignIn = serde_json::from_value(kept).unwrap();
    let refused = signin.finish(&code, &state, tampered).await.unwrap_err();
    assert_eq!(refusal_code(&refused), SIGN_IN_FAILED);
    assert!(refused.to_string().contains("nonce"), "{refused}");

    // A code redeemed once is not good again, and the message carries no secret.
    let (url, pending) = signin.begin();
    let (code, state) = browser_signs_in(&url, "sam.okafor@example.com").await;
    signin.finish(&code, &state, pending.clone()).await.unwrap();
    let refused = signin.finish(&code, &state, pending).await.unwrap_err();
    assert_eq!(refusal_code(&refused), SIGN_IN_FAILED);
    let message = refused.to_string();
    assert!(message.contains("did not redeem"), "{message}");
    assert!(
        !message.contains(&code) && !message.contains(SECRET),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_secret_or_issuer_spelling_is_caught() {
    let (_sb, base) = okta().await;
    let issuer = format!("{base}/oauth2/default");

    // The issuer is compared as a string: a trailing slash is another issuer.
    let slash = SignIn::discover_with_secret(&config(&format!("{issuer}/")), SECRET.into())
        .await
        .unwrap_err();
    assert_eq!(slash.code(), "configuration_error");

    let wrong = SignIn::discover_with_secret(&config(&issuer), "not-the-secret".into())
        .await
        .unwrap();
    let (url, pending) = wrong.begin();
    let (code, state) = browser_signs_in(&url, "sam.okafor@example.com").await;
    let refused = wrong.finish(&code, &state, pending).await.unwrap_err();
    assert_eq!(refusal_code(&refused), SIGN_IN_FAILED);
    assert!(!refused.to_string().contains("not-the-secret"));

    // The secret comes from the variable the configuration names.
    let mut from_env = config(&issuer);
    from_env.client_secret_env = "GRANTFLOW_TEST_SIGNIN_SECRET_UNSET".into();
    let missing = SignIn::discover(&from_env).await.unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("GRANTFLOW_TEST_SIGNIN_SECRET_UNSET"),
        "{missing}"
    );
}
