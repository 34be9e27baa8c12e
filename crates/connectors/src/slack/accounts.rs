//! Slack accounts through Slack's SCIM API (Business+ and Enterprise Grid; a user token with the `admin`
//! scope): `POST /Users` creates a member, `DELETE /Users/{id}` deactivates one (Slack never deletes a user, so a
//! `delete` retirement is refused before it is planned), `PATCH` changes the declared profile attributes. The
//! SCIM calls are the generic SCIM connector's (`crate::scim::accounts`). Without a SCIM token Slack offers no
//! supported way to create members: they are invited by a person, and the connection lists no account
//! operations.

use grantflow_model::{ConnectionName, OpKind, Operation, RetireMode};

use super::{SlackConfig, SlackConnector};
use crate::scim::accounts::{self, DeleteMeans};
use crate::scim::{ScimClient, ScimConfig, ScimDialect};
use crate::{Applied, BuildContext, Failure, Observed};

/// The SCIM client of a connection with a `scim_token`.
pub(super) fn scim_client(
    connection: &ConnectionName,
    config: &SlackConfig,
    context: &BuildContext,
) -> Result<Option<ScimClient>, Failure> {
    let Some(source) = &config.scim_token else {
        return Ok(None);
    };
    let token = context.secret(connection, "scim_token", source)?;
    let settings = ScimConfig {
        base_url: config.scim_url(),
        allow_insecure_http: config.allow_insecure_http,
        token: source.clone(),
        app: Some("Slack".into()),
        page_size: 100,
        timeout_seconds: config.timeout_seconds,
        max_rate_limit_waits: config.max_rate_limit_waits,
    };
    let dialect = ScimDialect::new("Slack".into(), &settings, token);
    ScimClient::new(super::SYSTEM, dialect, &settings, connection, context, None).map(Some)
}

/// A Slack-appropriate username from a login: Slack turns an email given as `userName` into a handle itself;
/// the connector sends the handle it would make (lower case, letters, digits, `.`, `-`, `_`, at most 21
/// characters), so what is sent is what is kept.
fn handle(login: &str) -> String {
    let local = login.split('@').next().unwrap_or(login).to_lowercase();
    local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '.'
            }
        })
        .take(21)
        .collect()
}

impl SlackConnector {
    fn scim(&self, op: &Operation) -> Result<&ScimClient, Failure> {
        self.scim.as_ref().ok_or_else(|| {
            Failure::unsupported(format!(
                "{}: slack cannot {} account {}: this connection has no SCIM token (`scim_token`, Slack's \
                 Business+ or Enterprise Grid plans); people must be invited to Slack by a person",
                self.connection,
                op.entitlement(),
                op.holder().label()
            ))
        })
    }

    /// Refuses account operations Slack cannot do: any without a SCIM token, and deleting a user.
    pub(super) fn check_account(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::CreateAccount { .. } | OpKind::UpdateProfile { .. } => {
                self.scim(op).map(|_| ())
            }
            OpKind::RetireAccount { account, mode, .. } => {
                self.scim(op)?;
                if *mode == RetireMode::Delete {
                    return Err(Failure::unsupported(format!(
                        "{}: slack cannot delete account {}: Slack never deletes a user (its SCIM DELETE \
                         deactivates); retire it with deactivate or suspend",
                        self.connection, account.login
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Applies an account operation; `None` for the others.
    pub(super) async fn apply_account(&self, op: &Operation) -> Result<Option<Applied>, Failure> {
        let applied = match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                self.check_account(op)?;
                let body = accounts::creation_body(account, attributes, options, handle);
                accounts::create(self.scim(op)?, account, &body).await?
            }
            OpKind::RetireAccount { account, mode, .. } => {
                self.check_account(op)?;
                accounts::retire(self.scim(op)?, account, *mode, DeleteMeans::Deactivated).await?
            }
            OpKind::UpdateProfile { account, after, .. } => {
                self.check_account(op)?;
                accounts::update_profile(self.scim(op)?, account, after, || {
                    Failure::permanent(
                        "user_not_found",
                        format!(
                            "{}: {} has no Slack account to update",
                            self.connection, account.login
                        ),
                        Some(404),
                    )
                })
                .await?
            }
            _ => return Ok(None),
        };
        Ok(Some(applied))
    }

    /// Observes an account operation; `None` for the others.
    pub(super) async fn observe_account(
        &self,
        op: &Operation,
    ) -> Result<Option<Observed>, Failure> {
        let observed = match &op.kind {
            OpKind::CreateAccount { account, .. } => {
                accounts::created(self.scim(op)?, account).await?
            }
            OpKind::RetireAccount { account, mode, .. } => {
                accounts::retired(self.scim(op)?, account, *mode, DeleteMeans::Deactivated).await?
            }
            OpKind::UpdateProfile { account, after, .. } => {
                accounts::profile_updated(self.scim(op)?, account, after).await?
            }
            _ => return Ok(None),
        };
        Ok(Some(observed))
    }
}

#[cfg(test)]
mod tests {
    use super::handle;

    #[test]
    fn handles_are_what_slack_would_make_of_an_email() {
        assert_eq!(handle("Nia.Park@example.com"), "nia.park");
        assert_eq!(handle("a+b@example.com"), "a.b");
        assert_eq!(handle("averyveryverylongname.person@x.com").len(), 21);
    }
}
