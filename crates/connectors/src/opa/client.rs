//! OPA's REST API: a service token minted from the key id and secret (and minted again once on a 401, since
//! tokens "may expire at any time"), `{"list":[…]}` pages followed through `Link: rel="next"`, 429 with
//! `X-RateLimit-Retry-At` (unix seconds), and error bodies whose `message` is kept verbatim.
//! Sources: https://developer.okta.com/docs/api/openapi/opa/ and `okta/terraform-provider-oktapam`
//! (`oktapam/client/okta_pam_client.go`).

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::time::Duration;

use crate::Failure;
use crate::http;

pub struct OpaClient {
    http: reqwest::Client,
    base: Url,
    team: String,
    key_id: SecretString,
    key_secret: SecretString,
    token: tokio::sync::Mutex<Option<SecretString>>,
    max_rate_limit_waits: u32,
}

/// One answer: status and JSON body (`Null` for 204).
pub struct OpaResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl OpaClient {
    pub fn new(
        base_url: &str,
        team: String,
        key_id: SecretString,
        key_secret: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
    ) -> Result<Self, Failure> {
        Ok(Self {
            http: http::client(timeout)?,
            base: http::base_url("opa", base_url)?,
            team,
            key_id,
            key_secret,
            token: tokio::sync::Mutex::new(None),
            max_rate_limit_waits,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `{base}/v1/teams/{team}/{segments…}`, each segment percent-encoded (group names have spaces).
    pub fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| Failure::Config {
                message: format!("opa base_url {} cannot carry a path", self.base),
            })?;
            path.pop_if_empty()
                .extend(["v1", "teams", self.team.as_str()]);
            path.extend(segments);
        }
        Ok(url)
    }

    async fn mint(&self) -> Result<SecretString, Failure> {
        let url = self.url(&["service_token"])?;
        let body = json!({
            "key_id": self.key_id.expose_secret(),
            "key_secret": self.key_secret.expose_secret(),
        });
        let response = self
            .http
            .post(url)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|error| Failure::RetryLater {
                at: None,
                vendor_code: None,
                message: format!(
                    "OPA service token request failed: {}",
                    http::without_url(&error)
                ),
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::RateLimited {
                bucket: "api".into(),
                reset: retry_at(&headers),
                message: message_of(&body).unwrap_or_else(|| "Too many requests".into()),
            });
        }
        if status.is_server_error() {
            return Err(Failure::RetryLater {
                at: None,
                vendor_code: code_of(&body),
                message: format!(
                    "OPA POST service_token answered HTTP {status}: {}",
                    message_of(&body).unwrap_or_default()
                ),
            });
        }
        if !status.is_success() {
            let failure = classify(status, &body, "POST service_token");
            return Err(match failure {
                Failure::Permanent {
                    vendor_code,
                    message,
                    ..
                } if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                    Failure::Unauthorized {
                        vendor_code: Some(vendor_code),
                        message,
                    }
                }
                other => other,
            });
        }
        let team = body.get("team_name").and_then(Value::as_str).unwrap_or("");
        if !team.eq_ignore_ascii_case(&self.team) {
            return Err(Failure::Config {
                message: format!(
                    "the OPA service token is for team \"{team}\", not the configured team \"{}\"",
                    self.team
                ),
            });
        }
        body.get("bearer_token")
            .and_then(Value::as_str)
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| Failure::Permanent {
                vendor_code: "invalid_response".into(),
                message: "OPA service token answer has no bearer_token".into(),
                status: Some(status.as_u16()),
            })
    }

    async fn bearer(&self, fresh: bool) -> Result<SecretString, Failure> {
        let mut token = self.token.lock().await;
        if fresh {
            *token = None;
        }
        if let Some(t) = token.as_ref() {
            return Ok(t.clone());
        }
        let minted = self.mint().await?;
        *token = Some(minted.clone());
        Ok(minted)
    }

    /// One call with token refresh, rate-limit waits and retries of reads; the answer or the classified failure.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<OpaResponse, Failure> {
        let what = format!("{method} {}", url.path());
        let label = format!("OPA {what}");
        let read = method == Method::GET;
        let mut reminted = false;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            let token = self.bearer(false).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header("accept", "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, headers, parsed)) =
                http::exchange_json(request, read, &mut transient_retries, &label).await?
            else {
                continue;
            };
            if status == StatusCode::UNAUTHORIZED && !reminted {
                // Tokens may expire at any time: mint a new one, once.
                reminted = true;
                self.bearer(true).await?;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = retry_at(&headers);
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "OPA rate limit reached; waiting.", %reset);
                    http::sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: "api".into(),
                    reset,
                    message: message_of(&parsed).unwrap_or_else(|| "Too many requests".into()),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(read, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: code_of(&parsed),
                    message: format!(
                        "OPA {what} answered HTTP {status}: {}",
                        message_of(&parsed).unwrap_or_default()
                    ),
                });
            }
            if !status.is_success() {
                return Err(classify(status, &parsed, &what));
            }
            return Ok(OpaResponse {
                status,
                headers,
                body: parsed,
            });
        }
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Value, Failure> {
        let url = self.url(segments)?;
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
        let mut items = Vec::new();
        loop {
            let response = self.send(Method::GET, url.clone(), None).await?;
            if let Some(Value::Array(list)) = response.body.get("list") {
                items.extend(list.iter().cloned());
            }
            match http::next_link(&response.headers).and_then(|n| http::same_origin(&self.base, &n))
            {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
    }
}

/// `X-RateLimit-Retry-At` (unix seconds); without it the provider waits 5–10 s, so 5 s.
fn retry_at(headers: &reqwest::header::HeaderMap) -> DateTime<Utc> {
    let now = Utc::now();
    http::header_i64(headers, "x-ratelimit-retry-at")
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0))
        .map(|at| at.max(now))
        .unwrap_or(now + chrono::Duration::seconds(5))
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
pub fn classify(status: StatusCode, body: &Value, what: &str) -> Failure {
    let message = message_of(body).unwrap_or_else(|| format!("OPA {what} answered HTTP {status}"));
    let vendor_code = code_of(body).unwrap_or_else(|| status.as_u16().to_string());
    if status == StatusCode::UNAUTHORIZED {
        return Failure::Unauthorized {
            vendor_code: Some(vendor_code),
            message,
        };
    }
    Failure::Permanent {
        vendor_code,
        message,
        status: Some(status.as_u16()),
    }
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

    #[test]
    fn the_retry_at_header_is_unix_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        let at = Utc::now().timestamp() + 3;
        headers.insert(
            "x-ratelimit-retry-at",
            at.to_string().parse().expect("header"),
        );
        assert_eq!(retry_at(&headers).timestamp(), at);
    }
}
