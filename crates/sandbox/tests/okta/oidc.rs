//! Okta as an OpenID Connect provider: what a web app and a browser see, done over HTTP as they would (the
//! browser is reqwest without redirects, the form is read from the page), and the ID token checked against
//! the published keys.

use base64::Engine as _;
use grantflow_sandbox::okta::{OidcApp, SANDBOX_PASSWORD, TokenAuthMethod};
use reqwest::redirect::Policy;
use sha2::Digest as _;

use crate::common::*;

const CLIENT_ID: &str = "0oagrantflowweb00001";
const SECRET: &str = "s3cret-for-the-grantflow-web-app";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Oidc {
    e: Env,
    /// A browser that does not follow redirects, so each hop can be checked.
    browser: Client,
    clock: Arc<ManualClock>,
}

fn app(client_id: &str, method: TokenAuthMethod) -> OidcApp {
    serde_json::from_value(json!({
        "client_id": client_id,
        "client_secret": SECRET,
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": method,
        "label": "grantflow",
    }))
    .unwrap()
}

async fn oidc() -> Oidc {
    let mut org = demo_org();
    org.okta
        .oidc_apps
        .push(app(CLIENT_ID, TokenAuthMethod::ClientSecretBasic));
    org.okta.oidc_apps.push(app(
        "0oapostclient0000001",
        TokenAuthMethod::ClientSecretPost,
    ));
    let (e, clock) = env_on_clock(&org).await;
    Oidc {
        e,
        browser: Client::builder().redirect(Policy::none()).build().unwrap(),
        clock,
    }
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn query_of(location: &str) -> std::collections::BTreeMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The value of the hidden `transaction` field of a sign-in page.
fn transaction_of(page: &str) -> String {
    let marker = "name=\"transaction\" value=\"";
    let start = page.find(marker).expect("a sign-in form") + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

impl Oidc {
    /// `/oauth2/default/v1/...` or `/oauth2/v1/...`.
    fn endpoint(&self, server: &str, name: &str) -> String {
        format!("{}{server}/v1/{name}", self.e.base)
    }

    fn authorize_url(&self, server: &str, client_id: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&self.endpoint(server, "authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email groups")
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("state", "state-296bc9a0")
            .append_pair("nonce", "n-0S6_WzA2Mj")
            .append_pair("code_challenge", &challenge(VERIFIER))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.to_string()
    }

    /// Opens the sign-in page: its status and the transaction it carries.
    async fn open(&self, url: &str) -> (StatusCode, String) {
        let resp = self.browser.get(url).send().await.unwrap();
        let status = resp.status();
        let page = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        (status, transaction_of(&page))
    }

    async fn submit(&self, transaction: &str, username: &str, password: &str) -> reqwest::Response {
        self.browser
            .post(format!("{}/login/signin", self.e.base))
            .form(&[
                ("transaction", transaction),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Signs `username` in at `server` with the sandbox password; the code the app receives.
    async fn code_for(&self, server: &str, client_id: &str, username: &str) -> String {
        let (_, transaction) = self.open(&self.authorize_url(server, client_id, &[])).await;
        let resp = self.submit(&transaction, username, SANDBOX_PASSWORD).await;
        assert_eq!(
            resp.status(),
            StatusCode::FOUND,
            "{}",
            resp.text().await.unwrap()
        );
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(CALLBACK), "{location}");
        let query = query_of(&location);
        assert_eq!(query["state"], "state-296bc9a0");
        query["code"].clone()
    }

    async fn exchange(&self, server: &str, code: &str, verifier: &str) -> (StatusCode, Value) {
        let resp = self
            .e
            .http
            .post(self.endpoint(server, "token"))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    async fn discovery(&self, server: &str) -> Value {
        let url = format!("{}{server}/.well-known/openid-configuration", self.e.base);
        let resp = self.e.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Verifies an ID token as a relying party must: signature by a published key, issuer, audience, expiry.
    async fn verify(&self, server: &str, id_token: &str) -> Value {
        let doc = self.discovery(server).await;
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .e
            .http
            .get(doc["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid published");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[doc["issuer"].as_str().unwrap()]);
        validation.set_audience(&[CLIENT_ID]);
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .unwrap()
            .claims
    }
}

#[tokio::test]
async fn each_server_publishes_its_issuer_endpoints_and_keys() {
    let o = oidc().await;
    let org = o.discovery("").await;
    assert_eq!(
        org["issuer"], o.e.base,
        "the org server's issuer is the org URL, no slash"
    );
    assert_eq!(
        org["authorization_endpoint"],
        format!("{}/oauth2/v1/authorize", o.e.base)
    );
    let custom = o.discovery("/oauth2/default").await;
    assert_eq!(custom["issuer"], format!("{}/oauth2/default", o.e.base));
    for (name, path) in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", "keys"),
    ] {
        assert_eq!(custom[name], o.endpoint("/oauth2/default", path), "{name}");
    }
    assert_eq!(custom["response_types_supported"], json!(["code"]));
    assert_eq!(custom["subject_types_supported"], json!(["public"]));
    assert_eq!(
        custom["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(custom["code_challenge_methods_supported"], json!(["S256"]));
    let methods = custom["token_endpoint_auth_methods_supported"].to_string();
    assert!(methods.contains("client_secret_basic") && methods.contains("client_secret_post"));
    for scope in ["openid", "profile", "email", "groups"] {
        assert!(
            custom["scopes_supported"].to_string().contains(scope),
            "{scope}"
        );
    }

    let keys: Value =
        o.e.http
            .get(custom["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn a_person_signs_in_and_the_app_gets_tokens_it_can_verify() {
    let o = oidc().await;
    let server = "/oauth2/default";
    let (_, transaction) = o
        .open(&o.authorize_url(
            server,
            CLIENT_ID,
            &[("login_hint", "okta-demo-user@example.com")],
        ))
        .await;
    let resp = o
        .submit(&transaction, "okta-demo-user@example.com", SANDBOX_PASSWORD)
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let query = query_of(&location);
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    assert_eq!(query["state"], "state-296bc9a0");
    let code = query["code"].clone();

    let (status, tokens) = o.exchange(server, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile email groups");

    let claims = o.verify(server, tokens["id_token"].as_str().unwrap()).await;
    let uid = o.e.user_id("okta-demo-user@example.com").await;
    assert_eq!(claims["sub"], uid, "sub is the Okta user id");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["email"], "okta-demo-user@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "okta-demo-user@example.com");
    assert_eq!(claims["name"], "Okta Demo");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["ver"], 1);
    for claim in ["iat", "exp", "auth_time", "jti", "at_hash"] {
        assert!(!claims[claim].is_null(), "{claim}");
    }
    let groups = claims["groups"].to_string();
    assert!(
        groups.contains("\"Platform\"") && groups.contains("\"Everyone\""),
        "{groups}"
    );
    assert!(!groups.contains("Finance"), "{groups}");

    let info: Value =
        o.e.http
            .get(o.endpoint(server, "userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(info["sub"], uid);
    assert_eq!(info["email"], "okta-demo-user@example.com");
    let refused =
        o.e.http
            .get(o.endpoint(server, "userinfo"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let (status, again) = o.exchange(server, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code is good once");
    assert_eq!(again["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_password_gets_the_page_again_and_no_code() {
    let o = oidc().await;
    let (_, transaction) = o
        .open(&o.authorize_url("/oauth2/default", CLIENT_ID, &[]))
        .await;
    let resp = o
        .submit(&transaction, "okta-demo-user@example.com", "guess")
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("location").is_none());
    let page = resp.text().await.unwrap();
    assert!(page.contains("Unable to sign in"), "{page}");
    assert!(!page.contains("guess"), "the password is never echoed");

    // The same sign-in goes on with the right password.
    let resp = o
        .submit(
            &transaction_of(&page),
            "okta-demo-user@example.com",
            SANDBOX_PASSWORD,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
}

/// Okta's default password policy locks a user out after 10 wrong passwords in a row; a right one in between
/// starts the count again, and only an unlock lets a locked-out user sign in.
#[tokio::test]
async fn ten_wrong_passwords_in_a_row_lock_the_user_out_until_unlocked() {
    let o = oidc().await;
    let login = "okta-demo-user@example.com";
    let uid = o.e.user_id(login).await;
    let (_, mut transaction) = o
        .open(&o.authorize_url("/oauth2/default", CLIENT_ID, &[]))
        .await;
    let wrong = async |times: usize, transaction: &mut String| {
        for _ in 0..times {
            let resp = o.submit(transaction, login, "guess").await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            *transaction = transaction_of(&resp.text().await.unwrap());
        }
    };
    wrong(9, &mut transaction).await;
    let resp = o.submit(&transaction, login, SANDBOX_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "nine are not enough");

    let (_, mut transaction) = o
        .open(&o.authorize_url("/oauth2/default", CLIENT_ID, &[]))
        .await;
    wrong(9, &mut transaction).await;
    let (_, _, user) = o.e.get(&format!("/api/v1/users/{uid}")).await;
    assert_eq!(user["status"], "ACTIVE", "the count started again");
    wrong(1, &mut transaction).await;
    let (_, _, user) = o.e.get(&format!("/api/v1/users/{uid}")).await;
    assert_eq!(user["status"], "LOCKED_OUT");
    let resp = o.submit(&transaction, login, SANDBOX_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "locked out");
    let page = resp.text().await.unwrap();
    let (_, _, log) =
        o.e.get("/api/v1/logs?filter=eventType%20eq%20%22user.account.lock%22")
            .await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!(log[0]["target"][0]["id"], uid.as_str());

    let (status, _) =
        o.e.post(&format!("/api/v1/users/{uid}/lifecycle/unlock"), json!({}))
            .await;
    assert_eq!(status, StatusCode::OK);
    let resp = o
        .submit(&transaction_of(&page), login, SANDBOX_PASSWORD)
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND, "unlocked");
}

#[tokio::test]
async fn only_active_people_sign_in() {
    let o = oidc().await;
    // SUSPENDED and DEPROVISIONED in the demo org, and one deactivated through the API now.
    let uid = o.e.user_id("lena.fischer@example.com").await;
    let (status, _) =
        o.e.post(
            &format!("/api/v1/users/{uid}/lifecycle/deactivate"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for login in [
        "chen.wei@example.com",
        "former.engineer@example.com",
        "lena.fischer@example.com",
    ] {
        let (_, transaction) = o
            .open(&o.authorize_url("/oauth2/default", CLIENT_ID, &[]))
            .await;
        let resp = o.submit(&transaction, login, SANDBOX_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{login}");
        assert!(resp.headers().get("location").is_none(), "{login}");
    }

    // Suspended between signing in and the code's exchange: no tokens.
    let code = o
        .code_for("/oauth2/default", CLIENT_ID, "marco.rossi@example.com")
        .await;
    let uid = o.e.user_id("marco.rossi@example.com").await;
    o.e.post(&format!("/api/v1/users/{uid}/lifecycle/suspend"), json!({}))
        .await;
    let (status, refused) = o.exchange("/oauth2/default", &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_verifier_or_a_late_exchange_is_invalid_grant_and_spends_the_code() {
    let o = oidc().await;
    let server = "/oauth2/default";
    let code = o
        .code_for(server, CLIENT_ID, "okta-demo-user@example.com")
        .await;
    let other = "x".repeat(43);
    let (status, refused) = o.exchange(server, &code, &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "invalid_grant");
    let (_, spent) = o.exchange(server, &code, VERIFIER).await;
    assert_eq!(
        spent["error"], "invalid_grant",
        "the code went with the failed try"
    );

    let code = o
        .code_for(server, CLIENT_ID, "okta-demo-user@example.com")
        .await;
    o.clock.advance(chrono::Duration::seconds(61));
    let (status, late) = o.exchange(server, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(late["error"], "invalid_grant", "a code lives 60 s");
    assert_eq!(
        late["error_description"],
        "The authorization code is invalid or has expired."
    );

    // A code is bound to its server too.
    let code = o
        .code_for(server, CLIENT_ID, "okta-demo-user@example.com")
        .await;
    let (_, elsewhere) = o.exchange("/oauth2", &code, VERIFIER).await;
    assert_eq!(elsewhere["error"], "invalid_grant");
}

#[tokio::test]
async fn bad_requests_never_reach_an_unregistered_redirect_uri() {
    let o = oidc().await;
    let server = "/oauth2/default";
    let elsewhere = o
        .authorize_url(server, CLIENT_ID, &[])
        .replace("9%2Fauth%2Fcallback", "9%2Fattacker");
    let unknown_client = o.authorize_url(server, "0oa-unknown", &[]);
    for url in [elsewhere, unknown_client] {
        let resp = o.browser.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(resp.headers().get("location").is_none(), "{url}");
        assert!(resp.text().await.unwrap().contains("error-description"));
    }

    // With the app's own redirect URI, errors go back to it with the state.
    let mut url = url::Url::parse(&o.endpoint(server, "authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("state", "abc");
    let resp = o.browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let query = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(
        query["error"], "invalid_request",
        "PKCE is required by the app"
    );
    assert_eq!(query["state"], "abc");
    assert!(!query.contains_key("code"));

    let no_openid = o
        .authorize_url(server, CLIENT_ID, &[])
        .replace("scope=openid+", "scope=");
    let resp = o.browser.get(&no_openid).send().await.unwrap();
    let query = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(query["error"], "invalid_scope");
}

#[tokio::test]
async fn the_org_server_takes_the_secret_the_way_the_app_is_configured() {
    let o = oidc().await;
    let client = "0oapostclient0000001";
    let exchange = |code: String, basic: bool, secret: &'static str| {
        let mut req = o.e.http.post(o.endpoint("/oauth2", "token"));
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", CALLBACK.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
            ("client_id", client.to_owned()),
        ];
        if basic {
            req = req.basic_auth(client, Some(secret));
        } else {
            form.push(("client_secret", secret.to_owned()));
        }
        async move {
            let resp = req.form(&form).send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let code = o
        .code_for("/oauth2", client, "okta-demo-user@example.com")
        .await;
    let (status, refused) = exchange(code, false, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused["error"], "invalid_client");

    let code = o
        .code_for("/oauth2", client, "okta-demo-user@example.com")
        .await;
    let (status, refused) = exchange(code, true, SECRET).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "this app posts its secret"
    );
    assert_eq!(refused["error"], "invalid_client");

    let code = o
        .code_for("/oauth2", client, "okta-demo-user@example.com")
        .await;
    let (status, tokens) = exchange(code, false, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<Value>(tokens["id_token"].as_str().unwrap())
            .unwrap()
            .claims;
    assert_eq!(claims["iss"], o.e.base);
    assert_eq!(claims["aud"], client);

    let resp =
        o.e.http
            .post(o.endpoint("/oauth2", "token"))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error_description"],
        "No client credentials found."
    );
}
