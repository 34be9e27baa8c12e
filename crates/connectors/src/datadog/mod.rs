//! The Datadog connector: read-only. It syncs monitors (`GET /api/v1/monitor`) as `monitor` resources, which
//! the reach graph joins to production services; there are no accounts or grants to read and nothing to
//! change, so every operation is refused before it is planned.

mod client;
mod config;
mod mapping;

pub use client::{DatadogClient, DatadogDialect, PAGE_SIZE, error_text};
pub use config::DatadogConfig;
pub use mapping::MONITOR;

use async_trait::async_trait;
use grantflow_model::{ConnectionName, Operation, SystemKind};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};

pub const SYSTEM: &str = "datadog";

pub struct DatadogConnector {
    connection: ConnectionName,
    client: DatadogClient,
}

impl DatadogConnector {
    pub fn new(
        connection: ConnectionName,
        config: &DatadogConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let api_key = context.secret(&connection, "api_key", &config.api_key)?;
        let application_key =
            context.secret(&connection, "application_key", &config.application_key)?;
        let client = DatadogClient::new(
            SYSTEM,
            DatadogDialect {
                connection: connection.clone(),
                api_key,
                application_key,
            },
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self { connection, client })
    }

    fn read_only(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: the Datadog connection is read-only (it syncs monitors for the reach graph); it cannot {} {} on {}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }
}

#[async_trait]
impl Connector for DatadogConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: Vec::new(),
            rate_limit_buckets: vec![client::MONITOR_BUCKET, client::VALIDATE_BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    /// Validate reads only the API key, so one monitor is read too: every read needs the application key,
    /// and a sync would otherwise be the first to find it wrong.
    async fn health(&self) -> Result<(), Failure> {
        self.client.validate().await?;
        self.client.monitor_page(1).await.map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let monitors = self
            .client
            .monitors(|n| sink.progress("monitors", n as u64))
            .await?;
        for resource in monitors.iter().filter_map(mapping::monitor) {
            sink.resource(resource);
        }
        Ok(())
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        Err(self.read_only(op))
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        Err(self.read_only(op))
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        Err(self.read_only(op))
    }
}
