//! OPA's REST dialect: a service token minted from the key id and secret (and minted again once on a 401,
//! since tokens "may expire at any time"), `{"list":[…]}` pages followed through `Link: rel="next"`, 429 with
//! `X-RateLimit-Retry-At` (unix seconds), and error bodies whose `message` is kept verbatim.
//! Sources: https://developer.okta.com/docs/api/openapi/opa/ and `okta/terraform-provider-oktapam`
//! (`oktapam/client/okta_pam_client.go`).

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::transport::{Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire};

/// The one bucket OPA's limit is reported under.
const BUCKET: &str = "api";

/// Without `X-RateLimit-Retry-At` the provider waits 5–10 s, so 5 s.
const DEFAULT_RETRY: Duration = Duration::from_secs(5);

/// OPA's client: the shared transport with OPA's dialect.
pub type OpaClient = Transport<OpaDialect>;

pub struct OpaDialect {
    team: String,
    key_id: SecretString,
    key_secret: SecretString,
    token: tokio::sync::Mutex<Option<SecretString>>,
}

/// `{base}/v1/teams/{team}/{segments…}`, each segment percent-encoded (group names have spaces).
fn team_url(base: &Url, team: &str, segments: &[&str]) -> Result<Url, Failure> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| Failure::config(format!("opa base_url {base} cannot carry a path")))?;
        path.pop_if_empty().extend(["v1", "teams", team]);
        path.extend(segments);
    }
    Ok(url)
}

fn request(method: Method, url: Url) -> Call {
    let label = format!("OPA {method} {}", url.path());
    Call::new(method, url)
        .header(reqwest::header::ACCEPT, "application/json")
        .label(label)
}

impl OpaDialect {
    pub(super) fn new(team: String, (key_id, key_secret): (SecretString, SecretString)) -> Self {
        Self {
            team,
            key_id,
            key_secret,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// A new service token for the key; refused keys are unauthorized.
    async fn mint(&self, wire: &Wire, ctx: &Ctx<'_>) -> Result<SecretString, Failure> {
        let url = team_url(wire.base(), &self.team, &["service_token"])?;
        let call = request(Method::POST, url).json(json!({
            "key_id": self.key_id.expose_secret(),
            "key_secret": self.key_secret.expose_secret(),
        }));
        let answer = wire.exchange(&call, Credentials::none()).await?;
        let status = answer.status;
        if let Some(failure) = self.failure(&call, &answer, ctx) {
            return Err(match failure {
                Failure::Permanent {
                    vendor_code,
                    message,
                    ..
                } if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                    Failure::unauthorized(Some(vendor_code), message)
                }
                other => other,
            });
        }
        let team = answer
            .body
            .get("team_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !team.eq_ignore_ascii_case(&self.team) {
            return Err(Failure::config(format!(
                "the OPA service token is for team \"{team}\", not the configured team \"{}\"",
                self.team
            )));
        }
        answer
            .body
            .get("bearer_token")
            .and_then(Value::as_str)
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| {
                Failure::unexpected_response(
                    "OPA service token answer has no bearer_token",
                    Some(status.as_u16()),
                )
            })
    }
}

#[async_trait]
impl Dialect for OpaDialect {
    async fn credentials(
        &self,
        wire: &Wire,
        _: &Call,
        ctx: &Ctx<'_>,
    ) -> Result<Credentials, Failure> {
        let mut token = self.token.lock().await;
        if let Some(t) = token.as_ref() {
            return Credentials::bearer(t);
        }
        let minted = self.mint(wire, ctx).await?;
        let credentials = Credentials::bearer(&minted);
        *token = Some(minted);
        credentials
    }

    /// Tokens may expire at any time: mint a new one, once.
    async fn renew(&self) -> bool {
        *self.token.lock().await = None;
        true
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(BUCKET)
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let (status, body) = (answer.status, &answer.body);
        if status.is_success() {
            return None;
        }
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .epoch(&answer.headers, "x-ratelimit-retry-at")
                .or_else(|| ctx.retry_after(&answer.headers))
                .unwrap_or_else(|| ctx.after(DEFAULT_RETRY));
            Failure::rate_limited(
                BUCKET,
                reset,
                message_of(body).unwrap_or_else(|| "Too many requests".into()),
            )
        } else if status.is_server_error() {
            Failure::retry_later(
                code_of(body),
                format!(
                    "{} answered HTTP {status}: {}",
                    call.label,
                    message_of(body).unwrap_or_default()
                ),
            )
        } else {
            classify(status, body, &call.label)
        })
    }
}

impl OpaClient {
    /// `{base}/v1/teams/{team}/{segments…}`, each segment percent-encoded (group names have spaces).
    pub fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        team_url(self.base(), &self.dialect().team, segments)
    }

    /// One call with token refresh, rate-limit waits and retries of reads; the answer or the classified failure.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Answer, Failure> {
        let call = request(method, url);
        let call = match body {
            Some(body) => call.json(body),
            None => call,
        };
        self.request(&call).await
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Value, Failure> {
        self.get_with(segments, &[]).await
    }

    /// One GET with query parameters (one page of a listing).
    pub async fn get_with(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Value, Failure> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(self.send(Method::GET, url, None).await?.body)
    }

    /// Every item of a `{"list":[…]}` listing, following `Link: rel="next"` (on the configured origin only).
    pub async fn get_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, Failure> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.list_all(
            request(Method::GET, url),
            Paging::Link,
            Items::Field("list"),
            |_| {},
        )
        .await
    }
}

fn message_of(body: &Value) -> Option<String> {
    body.get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn code_of(body: &Value) -> Option<String> {
    body.get("code")
        .or_else(|| body.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A 4xx as a failure carrying OPA's code and message verbatim.
pub fn classify(status: StatusCode, body: &Value, label: &str) -> Failure {
    let message = message_of(body).unwrap_or_else(|| format!("{label} answered HTTP {status}"));
    let vendor_code = code_of(body).unwrap_or_else(|| status.as_u16().to_string());
    if status == StatusCode::UNAUTHORIZED {
        return Failure::Unauthorized {
            vendor_code: Some(vendor_code),
            message,
        };
    }
    Failure::permanent(vendor_code, message, Some(status.as_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opa_errors_keep_the_message_and_split_auth_from_permanent() {
        let f = classify(
            StatusCode::CONFLICT,
            &json!({"code": "conflict", "message": "A security policy named x already exists"}),
            "POST security_policy",
        );
        assert_eq!(f.code(), "conflict");
        assert_eq!(f.message(), "A security policy named x already exists");
        assert!(matches!(
            f,
            Failure::Permanent {
                status: Some(409),
                ..
            }
        ));
        let f = classify(
            StatusCode::UNAUTHORIZED,
            &json!({"message": "no"}),
            "GET users",
        );
        assert!(matches!(f, Failure::Unauthorized { .. }));
    }
}
