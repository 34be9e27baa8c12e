//! The systems, one line each: how a connection to the fake vendor is configured (grantflow.yaml's
//! settings, as JSON), how the system says "slow down", and a successful answer to its health call.

use serde_json::{Value, json};
use std::path::Path;

pub struct System {
    pub name: &'static str,
    /// The connection's settings for a vendor at `url`, its secrets in files in `dir`.
    pub config: fn(url: &str, dir: &Path) -> Value,
    /// The status and body the system throttles with.
    pub throttled: (u16, &'static str),
    /// A body its health call accepts.
    pub ok: &'static str,
}

/// A secret read from the file `name` in `dir`.
fn file(dir: &Path, name: &str) -> Value {
    json!({ "file": dir.join(name) })
}

/// Settings every HTTP connection shares here: a short timeout, two rate-limit waits at most.
fn http(kind: &str, url: &str, dir: &Path, extra: Value) -> Value {
    let mut config = json!({
        "kind": kind,
        "base_url": url,
        "timeout_seconds": 3,
        "max_rate_limit_waits": 2,
        "token": file(dir, "token"),
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    config
}

pub static SYSTEMS: [System; 12] = [
    System {
        name: "okta",
        config: |url, dir| http("okta", url, dir, json!({})),
        throttled: (
            429,
            r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
        ),
        ok: "[]",
    },
    System {
        name: "google",
        config: |url, dir| http("google", url, dir, json!({})),
        throttled: (
            403,
            r#"{"error":{"code":403,"message":"Quota exceeded","errors":[{"reason":"userRateLimitExceeded"}]}}"#,
        ),
        ok: r#"{"users":[]}"#,
    },
    System {
        name: "github",
        config: |url, dir| http("github", url, dir, json!({"organization": "acme"})),
        throttled: (
            429,
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        ),
        ok: r#"{"login":"acme"}"#,
    },
    System {
        name: "gitlab",
        config: |url, dir| http("gitlab", url, dir, json!({})),
        throttled: (
            429,
            r#"{"message":{"error":"This endpoint has been requested too many times. Try again later."}}"#,
        ),
        ok: r#"{"id":1}"#,
    },
    System {
        name: "slack",
        config: |url, dir| http("slack", url, dir, json!({})),
        throttled: (429, r#"{"ok":false,"error":"ratelimited"}"#),
        ok: r#"{"ok":true}"#,
    },
    System {
        name: "aws",
        config: |url, dir| {
            json!({
                "kind": "aws",
                "base_url": url,
                "access_key_id": file(dir, "access_key_id"),
                "secret_access_key": file(dir, "secret_access_key"),
                "timeout_seconds": 3,
                "max_attempts": 2,
            })
        },
        throttled: (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        ok: r#"{"Instances":[]}"#,
    },
    System {
        name: "scim",
        config: |url, dir| http("scim", url, dir, json!({})),
        throttled: (
            429,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"Too many requests"}"#,
        ),
        ok: r#"{"totalResults":0,"Resources":[]}"#,
    },
    System {
        name: "opa",
        config: |url, dir| {
            let mut config = http("opa", url, dir, json!({"team": "acme"}));
            if let Some(config) = config.as_object_mut() {
                config.remove("token");
                config.insert("key_id".into(), file(dir, "key_id"));
                config.insert("key_secret".into(), file(dir, "key_secret"));
            }
            config
        },
        throttled: (429, r#"{"message":"Too many requests"}"#),
        ok: r#"{"list":[]}"#,
    },
    System {
        name: "jira",
        config: |url, dir| http("jira", url, dir, json!({"email": file(dir, "email")})),
        throttled: (429, r#"{"errorMessages":["Rate limit exceeded."]}"#),
        ok: r#"{"accountId":"5b10a2844c20165700ede21g"}"#,
    },
    System {
        name: "salesforce",
        config: |url, dir| {
            let mut config = http("salesforce", url, dir, json!({"limit_retry_seconds": 5}));
            if let Some(config) = config.as_object_mut() {
                // Salesforce never waits for its daily limit.
                config.remove("max_rate_limit_waits");
            }
            config
        },
        throttled: (
            403,
            r#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]"#,
        ),
        ok: "{}",
    },
    System {
        name: "datadog",
        config: |url, dir| {
            let mut config = http("datadog", url, dir, json!({}));
            if let Some(config) = config.as_object_mut() {
                config.remove("token");
                config.insert("api_key".into(), file(dir, "api_key"));
                config.insert("application_key".into(), file(dir, "application_key"));
            }
            config
        },
        throttled: (429, r#"{"errors":["Rate limit exceeded"]}"#),
        // Both health calls take it: validate (any success) and one page of monitors.
        ok: "[]",
    },
    System {
        name: "bamboohr",
        config: |url, dir| {
            let mut config = http("bamboohr", url, dir, json!({"company_domain": "hostile"}));
            if let Some(config) = config.as_object_mut() {
                config.remove("token");
                config.insert("api_key".into(), file(dir, "api_key"));
            }
            config
        },
        // BambooHR throttles with 429 and a Retry-After, the reason in a header and an empty body.
        throttled: (429, ""),
        // Health reads the change feed from now.
        ok: r#"{"latest":"2026-12-04T00:00:00+00:00","employees":{}}"#,
    },
];
