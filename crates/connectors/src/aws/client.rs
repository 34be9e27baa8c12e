//! The two AWS SDK clients (identitystore, sso-admin) built from one configuration, the instance they work on,
//! and how an SDK error becomes a [`Failure`].

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssoadmin::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_ssoadmin::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::sync::OnceCell;

use crate::Failure;

/// Which API family a call belongs to: the rate-limit bucket a throttle is reported under.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    IdentityStore,
    SsoAdmin,
}

impl Api {
    fn bucket(self) -> &'static str {
        match self {
            Api::IdentityStore => "identitystore",
            Api::SsoAdmin => "sso",
        }
    }
}

/// The Identity Center instance and its identity store.
#[derive(Debug, Clone)]
pub struct Instance {
    pub arn: String,
    pub identity_store_id: String,
}

pub struct AwsClient {
    pub connection: String,
    pub store: aws_sdk_identitystore::Client,
    pub sso: aws_sdk_ssoadmin::Client,
    endpoint: String,
    configured: (Option<String>, Option<String>),
    instance: OnceCell<Instance>,
}

/// Credential errors AWS answers for a bad, unknown or expired key or signature.
const UNAUTHORIZED: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignatureException",
];

const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// How long a throttled caller is told to wait: AWS gives no reset time (identitystore sometimes sends
/// `RetryAfterSeconds`, which the generic error metadata does not carry).
const THROTTLE_WAIT_SECONDS: i64 = 5;

/// Classifies an SDK error from `what` (the operation and its object) into grantflow's vocabulary, keeping
/// AWS's error code and message verbatim.
pub fn classify<E>(connection: &str, api: Api, what: &str, err: SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("{connection}: {what}");
    match &err {
        SdkError::ConstructionFailure(_) => Failure::Config {
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
        SdkError::TimeoutError(_) => Failure::RetryLater {
            at: None,
            vendor_code: Some("timeout".into()),
            message: format!("{context}: no answer in time"),
        },
        SdkError::DispatchFailure(failure) => Failure::RetryLater {
            at: None,
            vendor_code: Some(
                if failure.is_timeout() {
                    "timeout"
                } else {
                    "connection"
                }
                .into(),
            ),
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            if status >= 500 || status == 429 {
                Failure::RetryLater {
                    at: None,
                    vendor_code: Some(format!("http_{status}")),
                    message: format!("{context}: unreadable answer with status {status}"),
                }
            } else {
                Failure::Permanent {
                    vendor_code: format!("http_{status}"),
                    message: format!("{context}: unreadable answer with status {status}"),
                    status: Some(status),
                }
            }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            // A proxy or load balancer in front of AWS may answer without AWS's error shape.
            let code = err
                .code()
                .map_or_else(|| format!("http_{status}"), str::to_string);
            let message = err.message().unwrap_or_default().to_string();
            if THROTTLED.contains(&code.as_str()) {
                Failure::RateLimited {
                    bucket: api.bucket().into(),
                    reset: Utc::now() + chrono::Duration::seconds(THROTTLE_WAIT_SECONDS),
                    message: format!("{context}: {code}: {message}"),
                }
            } else if UNAUTHORIZED.contains(&code.as_str()) {
                Failure::Unauthorized {
                    vendor_code: Some(code),
                    message: format!("{context}: {message}"),
                }
            } else if status >= 500
                || code == "InternalServerException"
                || code == "ServiceUnavailableException"
            {
                Failure::RetryLater {
                    at: None,
                    vendor_code: Some(code),
                    message: format!("{context}: {message}"),
                }
            } else {
                Failure::Permanent {
                    vendor_code: code,
                    message: format!("{context}: {message}"),
                    status: Some(status),
                }
            }
        }
        _ => Failure::RetryLater {
            at: None,
            vendor_code: None,
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
    }
}

pub fn is_code(failure: &Failure, code: &str) -> bool {
    matches!(failure, Failure::Permanent { vendor_code, .. } if vendor_code == code)
}

pub struct ClientSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub instance_arn: Option<String>,
    pub identity_store_id: Option<String>,
    pub timeout: Duration,
    pub max_attempts: u32,
}

impl AwsClient {
    pub fn new(
        connection: &str,
        settings: ClientSettings,
        access_key_id: SecretString,
        secret_access_key: SecretString,
    ) -> Result<Self, Failure> {
        if settings.max_attempts == 0 {
            return Err(Failure::Config {
                message: format!("connection {connection}: max_attempts must be at least 1"),
            });
        }
        // Static keys, no provider chain: the connection's settings are all that configure the clients, so
        // nothing in the environment (AWS_PROFILE, AWS_ENDPOINT_URL, …) redirects or re-keys them.
        let credentials = Credentials::new(
            access_key_id.expose_secret(),
            secret_access_key.expose_secret(),
            None,
            None,
            "grantflow",
        );
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeout)
                    .operation_attempt_timeout(settings.timeout)
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            url::Url::parse(url).map_err(|e| Failure::Config {
                message: format!("connection {connection}: endpoint_url {url:?}: {e}"),
            })?;
            builder = builder.endpoint_url(url.trim_end_matches('/'));
        }
        let sdk = builder.build();
        let endpoint = settings
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://sso.{}.amazonaws.com", settings.region));
        Ok(Self {
            connection: connection.to_string(),
            store: aws_sdk_identitystore::Client::new(&sdk),
            sso: aws_sdk_ssoadmin::Client::new(&sdk),
            endpoint,
            configured: (settings.instance_arn, settings.identity_store_id),
            instance: OnceCell::new(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn fail<E>(&self, api: Api, what: &str, err: SdkError<E>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(&self.connection, api, what, err)
    }

    /// The configured instance, or the one `ListInstances` reports (an organisation has at most one).
    pub async fn instance(&self) -> Result<&Instance, Failure> {
        self.instance
            .get_or_try_init(|| async {
                if let (Some(arn), Some(store)) = &self.configured {
                    return Ok(Instance {
                        arn: arn.clone(),
                        identity_store_id: store.clone(),
                    });
                }
                let out = self
                    .sso
                    .list_instances()
                    .send()
                    .await
                    .map_err(|e| self.fail(Api::SsoAdmin, "ListInstances", e))?;
                let found = out.instances().iter().find(|i| {
                    self.configured
                        .0
                        .as_deref()
                        .is_none_or(|arn| i.instance_arn() == Some(arn))
                });
                match found.and_then(|i| Some((i.instance_arn()?, i.identity_store_id()?))) {
                    Some((arn, store)) => Ok(Instance {
                        arn: arn.to_string(),
                        identity_store_id: self.configured.1.clone().unwrap_or(store.to_string()),
                    }),
                    None => Err(Failure::Permanent {
                        vendor_code: "NoInstance".into(),
                        message: format!(
                            "{}: ListInstances found no IAM Identity Center instance{}",
                            self.connection,
                            self.configured
                                .0
                                .as_deref()
                                .map(|a| format!(" with ARN {a}"))
                                .unwrap_or_default()
                        ),
                        status: None,
                    }),
                }
            })
            .await
    }
}
