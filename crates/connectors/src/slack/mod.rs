//! The Slack connector: workspace members and public and private channel membership through the Web API, and
//! the app's messages (`post_message`, `update_message`) for asking and answering people in Slack; with a SCIM
//! token (Business+ / Enterprise Grid), accounts through Slack's SCIM API (`accounts.rs`).

mod accounts;
mod client;
mod config;
mod mapping;

pub use client::{SlackClient, SlackDialect, post_bucket, tier_of};
pub use config::SlackConfig;

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, SystemKind,
};
use serde_json::{Map, Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{CHANNEL, MEMBER};

pub const SYSTEM: &str = "slack";

pub struct SlackConnector {
    connection: ConnectionName,
    client: SlackClient,
    signing_secret: Option<secrecy::SecretString>,
    /// Slack's SCIM API, when the connection has a SCIM token.
    scim: Option<crate::scim::ScimClient>,
}

pub use crate::PostedMessage;

impl SlackConnector {
    pub fn new(
        connection: ConnectionName,
        config: &SlackConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = context.secret(&connection, "token", &config.token)?;
        let signing_secret = config
            .signing_secret
            .as_ref()
            .map(|source| context.secret(&connection, "signing_secret", source))
            .transpose()?;
        let client = SlackClient::new(
            SYSTEM,
            SlackDialect { token },
            config,
            &connection,
            context,
            None,
        )?;
        let scim = accounts::scim_client(&connection, config, context)?;
        Ok(Self {
            connection,
            client,
            signing_secret,
            scim,
        })
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: slack can only add or remove channel members, not {} {} on a {}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The channel and the member id of a membership operation; `None` for a `pending:<email>` person who
    /// has no Slack account.
    async fn target(&self, op: &Operation) -> Result<(String, Option<String>), Failure> {
        let (OpKind::AddGrant {
            account,
            resource,
            entitlement,
        }
        | OpKind::RemoveGrant {
            account,
            resource,
            entitlement,
        }) = &op.kind
        else {
            return Err(self.unsupported(op));
        };
        if resource.kind.as_str() != CHANNEL || entitlement != MEMBER {
            return Err(self.unsupported(op));
        }
        Ok((resource.id.clone(), self.user_id(account).await?))
    }

    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        match self
            .client
            .call("users.lookupByEmail", &[("email", email)])
            .await
        {
            Ok(fields) => Ok(fields
                .get("user")
                .and_then(|u| u.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string)),
            Err(f) if f.is_vendor_code("users_not_found") => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// Posts a message as the app to `channel`: a channel id, or a person's user id for a DM. `text` is the
    /// notification fallback when there are `blocks` (an empty slice posts none). A refusal keeps Slack's error
    /// code (`channel_not_found`, `not_in_channel`, `invalid_blocks`, …).
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &[Value],
    ) -> Result<PostedMessage, Failure> {
        let mut body = json!({ "channel": channel, "text": text });
        if !blocks.is_empty() {
            body["blocks"] = Value::from(blocks.to_vec());
        }
        let fields = self.client.post(channel, body).await?;
        Ok(PostedMessage {
            channel: answered(&fields, "channel", "chat.postMessage")?,
            ts: answered(&fields, "ts", "chat.postMessage")?,
        })
    }

    /// Replaces the text and blocks of one of the app's messages (an empty `blocks` removes them). `channel` is
    /// the conversation id [`PostedMessage`] names: Slack does not take a user id here.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[Value],
    ) -> Result<(), Failure> {
        let body = json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks });
        self.client
            .call_json("chat.update", body, true)
            .await
            .map(|_| ())
    }

    async fn members(&self, channel: &str) -> Result<Vec<String>, Failure> {
        let members = self
            .client
            .paginate(
                "conversations.members",
                &[("channel", channel), ("limit", "200")],
                "members",
                |_| {},
            )
            .await?;
        Ok(members
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }
}

/// A string field of a successful answer; a Slack that leaves it out broke its own contract.
fn answered(fields: &Map<String, Value>, name: &str, method: &str) -> Result<String, Failure> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::permanent(
                "invalid_response",
                format!("Slack {method} answered ok without {name}"),
                None,
            )
        })
}

#[async_trait]
impl crate::Chat for SlackConnector {
    async fn post(
        &self,
        channel: &str,
        text: &str,
        blocks: &[Value],
    ) -> Result<PostedMessage, Failure> {
        self.post_message(channel, text, blocks).await
    }

    async fn update(
        &self,
        message: &PostedMessage,
        text: &str,
        blocks: &[Value],
    ) -> Result<(), Failure> {
        self.update_message(&message.channel, &message.ts, text, blocks)
            .await
    }

    fn signing_secret(&self) -> Option<&secrecy::SecretString> {
        self.signing_secret.as_ref()
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn chat(&self) -> Option<&dyn crate::Chat> {
        Some(self)
    }

    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: if self.scim.is_some() {
                vec![
                    "add_grant",
                    "remove_grant",
                    "create_account",
                    "retire_account",
                    "update_profile",
                ]
            } else {
                vec!["add_grant", "remove_grant"]
            },
            rate_limit_buckets: if self.scim.is_some() {
                vec!["tier2", "tier3", "tier4", "special", crate::scim::BUCKET]
            } else {
                vec!["tier2", "tier3", "tier4", "special"]
            },
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client.call("auth.test", &[]).await.map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let users = self
            .client
            .paginate("users.list", &[("limit", "200")], "members", |n| {
                sink.progress("users", n as u64)
            })
            .await?;
        for account in users.iter().filter_map(mapping::account) {
            sink.account(account);
        }
        let channels = self
            .client
            .paginate(
                "conversations.list",
                &[
                    ("types", "public_channel,private_channel"),
                    ("limit", "200"),
                ],
                "channels",
                |n| sink.progress("channels", n as u64),
            )
            .await?;
        for (read, channel) in channels.iter().filter_map(mapping::channel).enumerate() {
            for member in self.members(&channel.id).await? {
                sink.grant(Grant {
                    account_id: member,
                    resource_id: channel.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            sink.progress("memberships", read as u64 + 1);
            sink.resource(channel);
        }
        Ok(())
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        self.check_account(op)
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        if let Some(applied) = self.apply_account(op).await? {
            return Ok(applied);
        }
        let (channel, user) = self.target(op).await?;
        let Some(user) = user else {
            return if op.widens_access() {
                // Only a `pending:<email>` person has no id: their account may be created in this plan and
                // not exist yet, so the grant waits for it.
                Err(Failure::retry_later(
                    Some("users_not_found".into()),
                    format!(
                        "{}: {} has no Slack account yet",
                        self.connection,
                        op.holder().label()
                    ),
                ))
            } else {
                Ok(Applied::AlreadyPresent)
            };
        };
        let (method, args, already) = if op.widens_access() {
            (
                "conversations.invite",
                [("channel", channel.as_str()), ("users", user.as_str())],
                "already_in_channel",
            )
        } else {
            (
                "conversations.kick",
                [("channel", channel.as_str()), ("user", user.as_str())],
                "not_in_channel",
            )
        };
        match self.client.call(method, &args).await {
            Ok(_) => Ok(Applied::Changed),
            Err(f) if f.is_vendor_code(already) => Ok(Applied::AlreadyPresent),
            Err(f) => Err(f),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        if let Some(observed) = self.observe_account(op).await? {
            return Ok(observed);
        }
        let (channel, user) = self.target(op).await?;
        let present = match user {
            Some(user) => self.members(&channel).await?.contains(&user),
            None => false,
        };
        Ok(Observed::of(op, present))
    }
}
