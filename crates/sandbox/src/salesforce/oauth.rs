//! Salesforce's OAuth 2.0 JWT bearer flow (wave2-vendors.md §4.1): `POST /services/oauth2/token` with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`, `iss` = the connected app's
//! consumer key, `sub` = a username, `aud` = the login URL, `exp` at most three minutes ahead. The sandbox's
//! connected app holds the certificate of the key it publishes, and every active user is pre-authorized. The
//! answer is a session (`access_token`, `instance_url`, `id`, `token_type`, `scope`, `issued_at`), with no
//! refresh token and no lifetime: it ends with the org's session timeout, after which the API answers 401
//! `INVALID_SESSION_ID`. Error descriptions are the texts Salesforce is reported to send ([3p]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::state::Salesforce;
use crate::emulator::tokens::{JWT_BEARER, Presented, seconds_claim};
use crate::emulator::{Ctx, json_response, random_token};

/// The sandbox's connected app.
pub const CONSUMER_KEY: &str =
    "3MVG9SANDBOXgrantflowConnectedApp.Consumer.Key.0123456789abcdefghijklmnopqrstuvwxyz";

/// The org id sessions belong to.
const ORG_ID: &str = "00D8d000000SANDBX";

/// Salesforce's documented login hosts; the emulator's own origin stands for a My Domain login URL.
const LOGIN_HOSTS: [&str; 2] = [
    "https://login.salesforce.com",
    "https://test.salesforce.com",
];

/// Salesforce wants `exp` within three minutes; a little clock skew is tolerated.
const MAX_AHEAD_SECONDS: i64 = 180 + 60;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// `POST /services/oauth2/token`.
pub async fn token(
    State(s): State<Arc<Salesforce>>,
    ctx: Ctx,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(issuer) = s.issuer.as_ref() else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The sandbox has no connected app key.",
        );
    };
    let refused = |error, description| {
        issuer.refuse();
        oauth_error(StatusCode::BAD_REQUEST, error, description)
    };
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != JWT_BEARER {
        return refused("unsupported_grant_type", "grant type not supported");
    }
    // Read before the signature: an unknown consumer key is told apart from a bad signature.
    let claimed_iss = jsonwebtoken::dangerous::insecure_decode::<Value>(field("assertion"))
        .ok()
        .and_then(|d| {
            d.claims
                .get("iss")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    if claimed_iss.as_deref() != Some(CONSUMER_KEY) {
        return refused("invalid_client_id", "client identifier invalid");
    }
    let Some(claims) = issuer.verify(field("assertion")) else {
        return refused("invalid_grant", "invalid assertion");
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    // The emulator is reached over HTTPS only, at the authority the client used (`Host` on HTTP/1.1,
    // `:authority` on HTTP/2).
    let authority = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(ToString::to_string))
        .unwrap_or_else(|| ctx.base.trim_start_matches("http://").to_owned());
    let own = format!("https://{authority}");
    let aud = text("aud").trim_end_matches('/');
    if !(LOGIN_HOSTS.contains(&aud) || aud == own) {
        return refused("invalid_grant", "audience is invalid");
    }
    let now = ctx.now.timestamp();
    match seconds_claim(&claims, "exp") {
        Some(exp) if exp > now && exp <= now + MAX_AHEAD_SECONDS => {}
        _ => return refused("invalid_grant", "expired authorization code"),
    }
    let username = text("sub").to_lowercase();
    let user_id = s.active_user(&username);
    let Some(user_id) = user_id else {
        return refused("invalid_grant", "user hasn't approved this consumer");
    };
    let access_token = random_token(&format!("{ORG_ID}!"), 96);
    issuer.issue(&access_token, &username, vec!["api".into()], ctx.now);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "scope": "api",
            "instance_url": own,
            "id": format!("{own}/id/{ORG_ID}AAA/{user_id}"),
            "token_type": "Bearer",
            "issued_at": ctx.now.timestamp_millis().to_string(),
        }),
    )
}

impl Salesforce {
    /// The id of the active user with `username` (lower-case).
    fn active_user(&self, username: &str) -> Option<String> {
        let state = self.core.state();
        state.records.get("User")?.iter().find_map(|(id, user)| {
            let name = user.get("Username").and_then(Value::as_str)?;
            let active = user.get("IsActive").and_then(Value::as_bool) != Some(false);
            (active && name.to_lowercase() == username).then(|| id.clone())
        })
    }

    /// A session is the fixed sandbox token, or one the token endpoint opened that has not expired.
    pub(super) fn session_valid(&self, presented: &str) -> bool {
        if !self.token.is_empty() && presented == self.token {
            return true;
        }
        self.issuer.as_ref().is_some_and(|issuer| {
            matches!(
                issuer.check(presented, self.core.now()),
                Presented::Valid(_)
            )
        })
    }
}
