//! Google's OAuth 2.0 token endpoint for a service account with domain-wide delegation (wave2-vendors.md
//! §3.1): `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`.
//! The sandbox's one service account publishes its key file (as the Cloud console hands it over, with
//! `token_uri` pointing here); its client id is delegated the Directory scopes below, as an administrator does
//! in the Admin console. Errors are `{error, error_description}`; the descriptions are the texts Google is
//! reported to send ([3p], wave2-vendors.md §10 item 4).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::state::Google;
use crate::emulator::tokens::{JWT_BEARER, Presented, TokenIssuer, seconds_claim};
use crate::emulator::{Now, json_response, random_token};

/// The audience google-auth claims whatever `token_uri` says; Google accepts no other.
pub const AUDIENCE: &str = "https://oauth2.googleapis.com/token";

/// The service account the sandbox publishes.
pub const CLIENT_EMAIL: &str = "grantflow-sandbox@grantflow-sandbox.iam.gserviceaccount.com";
pub const CLIENT_ID: &str = "108463829351052761946";

/// What the Admin console delegates to the service account's client id.
pub const DELEGATED_SCOPES: [&str; 6] = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];

/// Google refuses an assertion that claims more than an hour.
const MAX_ASSERTION_SECONDS: i64 = 3600;
/// Clock skew tolerated on `iat`.
const SKEW_SECONDS: i64 = 300;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// The key file of the sandbox's service account, `token_uri` at `base_url`.
pub fn key_file(issuer: &TokenIssuer, key_id: &str, base_url: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "grantflow-sandbox",
        "private_key_id": key_id,
        "private_key": issuer.private_pem(),
        "client_email": CLIENT_EMAIL,
        "client_id": CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{base_url}/token"),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    })
    .to_string()
}

/// `POST /token`.
pub async fn token(State(g): State<Arc<Google>>, Now(now): Now, body: Bytes) -> Response {
    let Some(issuer) = g.issuer.as_ref() else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_failure",
            "The sandbox has no service account key.",
        );
    };
    let refused = |status, error, description| {
        issuer.refuse();
        oauth_error(status, error, description)
    };
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != JWT_BEARER {
        return refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", field("grant_type")),
        );
    }
    let Some(claims) = issuer.verify(field("assertion")) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    if text("iss") != CLIENT_EMAIL {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    }
    if text("aud") != AUDIENCE {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Failed audience check.",
        );
    }
    let now_s = now.timestamp();
    let timely = match (seconds_claim(&claims, "iat"), seconds_claim(&claims, "exp")) {
        (Some(iat), Some(exp)) => {
            iat <= now_s + SKEW_SECONDS
                && exp > now_s
                && exp > iat
                && exp - iat <= MAX_ASSERTION_SECONDS
        }
        _ => false,
    };
    if !timely {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let scopes: Vec<String> = text("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    if scopes
        .iter()
        .any(|s| !DELEGATED_SCOPES.contains(&s.as_str()))
    {
        return refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    let subject = text("sub").to_lowercase();
    let known = g
        .core
        .state()
        .users
        .values()
        .any(|u| u.primary_email.to_lowercase() == subject && !u.suspended);
    if !known {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid email or User ID",
        );
    }
    let access_token = random_token("ya29.c.", 120);
    let lifetime = issuer.issue(&access_token, &subject, scopes, now);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "expires_in": lifetime,
            "token_type": "Bearer",
        }),
    )
}

/// How a Bearer token fared.
pub enum Bearer {
    Allowed,
    /// Unknown, or expired: Google answers both with the same 401.
    Invalid,
    /// A minted token without a scope the call needs: 403 `insufficientPermissions`.
    MissingScope,
}

/// The Directory scopes that allow `method` on `path` (a `.readonly` scope allows reads only; the
/// `group.member` scopes reach members only).
fn allowed_by(method: &Method, path: &str) -> Vec<&'static str> {
    let family = if path.contains("/members") || path.contains("/hasMember/") {
        &DELEGATED_SCOPES[2..6]
    } else if path.contains("/groups") {
        &DELEGATED_SCOPES[2..4]
    } else {
        &DELEGATED_SCOPES[0..2]
    };
    let read = *method == Method::GET;
    family
        .iter()
        .copied()
        .filter(|s| read || !s.ends_with(".readonly"))
        .collect()
}

impl Google {
    /// `Authorization: Bearer <token>`: the fixed sandbox token, or one the token endpoint issued that has not
    /// expired and carries a scope for the call.
    pub(super) fn bearer(&self, presented: &str, method: &Method, path: &str) -> Bearer {
        if !self.token.is_empty() && presented == self.token {
            return Bearer::Allowed;
        }
        let Some(issuer) = self.issuer.as_ref() else {
            return Bearer::Invalid;
        };
        match issuer.check(presented, self.core.now()) {
            Presented::Valid(issued) => {
                let allowed = allowed_by(method, path);
                if issued.scopes.iter().any(|s| allowed.contains(&s.as_str())) {
                    Bearer::Allowed
                } else {
                    Bearer::MissingScope
                }
            }
            Presented::Expired | Presented::Unknown => Bearer::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readonly_scopes_read_and_member_scopes_reach_only_members() {
        let user_ro = DELEGATED_SCOPES[1];
        let member = DELEGATED_SCOPES[4];
        assert!(allowed_by(&Method::GET, "/admin/directory/v1/users").contains(&user_ro));
        assert!(!allowed_by(&Method::POST, "/admin/directory/v1/users").contains(&user_ro));
        assert!(
            allowed_by(&Method::POST, "/admin/directory/v1/groups/g/members").contains(&member)
        );
        assert!(!allowed_by(&Method::POST, "/admin/directory/v1/groups").contains(&member));
    }
}
