//! Accounts as code in GitHub: an organisation invitation by email (`POST /orgs/{org}/invitations`,
//! `role` from the attributes, `direct_member` by default). The account is pending until the invitee
//! accepts; it is found by email among the pending invitations, then among the members, so a retried
//! invitation that took effect is never sent twice. Retiring removes the membership (`DELETE
//! /orgs/{org}/memberships/{username}`, which also cancels a user's pending invitation) or cancels an
//! invitation of an email with no GitHub user yet (`DELETE /orgs/{org}/invitations/{id}`): an
//! organisation has no suspended state, so `suspend` is refused before planning stores it, and
//! `deactivate` and `delete` both remove.

use grantflow_model::{AccountRef, RetireMode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{GithubConnector, is_not_found, login_of};
use crate::{Applied, Failure, Observed};

/// The account id a sync gives an invitation of an email no GitHub user has: `invitation:<id>`.
pub const INVITATION_PREFIX: &str = "invitation:";
/// The roles an invitation takes (`reinstate` is for former members only, not a new account's).
const ROLES: [&str; 3] = ["direct_member", "admin", "billing_manager"];
const DEFAULT_ROLE: &str = "direct_member";

/// How soon a grant waiting for an invitee to sign up and accept looks again.
const INVITEE_RECHECK: chrono::Duration = chrono::Duration::minutes(10);

/// The login a `pending:<email>` account's grant acts on, or why there is none yet (transient).
#[derive(Debug)]
pub enum Resolved {
    Login(String),
    NotYet(Failure),
}

/// Where a person stands in the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A member, by login.
    Member(String),
    /// Invited, not accepted: the invitation's id and, when the email is a GitHub user's, their login.
    Invited {
        id: u64,
        login: Option<String>,
    },
    Absent,
}

/// The email an invitation goes to: the `email` attribute, else the planned account's email, else its
/// login when that is an email.
pub fn invitee_email(account: &AccountRef, attributes: &Map<String, Value>) -> Option<String> {
    attributes
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| account.pending_email().map(str::to_string))
        .or_else(|| account.login.contains('@').then(|| account.login.clone()))
}

fn role_of(attributes: &Map<String, Value>) -> Option<&str> {
    match attributes.get("role") {
        None => Some(DEFAULT_ROLE),
        Some(value) => value.as_str().filter(|r| ROLES.contains(r)),
    }
}

/// Refuses, before planning stores it, what GitHub cannot do: a creation without an email to invite, an
/// unknown role or attribute, and a suspension (an organisation membership has no suspended state).
pub fn check_create(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<(), Failure> {
    let refuse = |why: String| {
        Failure::permanent(
            "invalid_attributes",
            format!("{connection}: github account {}: {why}", account.login),
            None,
        )
    };
    if let Some(name) = attributes
        .keys()
        .find(|k| !["role", "email", "login"].contains(&k.as_str()))
    {
        return Err(refuse(format!(
            "attribute `{name}` is not one an invitation takes (role, email)"
        )));
    }
    if role_of(attributes).is_none() {
        return Err(refuse(format!(
            "`role` must be one of {}",
            ROLES.join(", ")
        )));
    }
    match invitee_email(account, attributes) {
        Some(email) if email.contains('@') => Ok(()),
        _ => Err(refuse(
            "an invitation goes to an email; give `email` in the attributes".into(),
        )),
    }
}

pub fn check_retire(
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<(), Failure> {
    if mode == RetireMode::Suspend {
        return Err(Failure::unsupported(format!(
            "{connection}: github cannot suspend {}: an organisation membership has no suspended state; declare `retire: deactivate` or `delete` (both remove the membership)",
            account.login
        )));
    }
    Ok(())
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl GithubConnector {
    /// Where the person with `email` stands: a pending invitation (by its email, or its invitee's), else a
    /// member (by the listed or the profile email).
    pub(super) async fn standing(&self, email: &str) -> Result<Standing, Failure> {
        let org = self.org().await?;
        let invitations = self
            .client
            .get_all(&["orgs", org, "invitations"], &[])
            .await?;
        for invitation in &invitations {
            let Some(id) = invitation.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let login = login_of(invitation);
            let matches = match invitation.get("email").and_then(Value::as_str) {
                Some(invited) => same(invited, email),
                // Invited by user id: the user's own email says who.
                None => match &login {
                    Some(login) => {
                        let user = self.client.get(&["users", login], None).await?.body;
                        self.email(&user).await?.is_some_and(|e| same(&e, email))
                    }
                    None => false,
                },
            };
            if matches {
                return Ok(Standing::Invited { id, login });
            }
        }
        let members = self.client.get_all(&["orgs", org, "members"], &[]).await?;
        for member in &members {
            if self.email(member).await?.is_some_and(|e| same(&e, email))
                && let Some(login) = login_of(member)
            {
                return Ok(Standing::Member(login));
            }
        }
        Ok(Standing::Absent)
    }

    /// Whether the invitation a creation wants is out (or accepted).
    pub(super) async fn invited(
        &self,
        account: &AccountRef,
        attributes: &Map<String, Value>,
    ) -> Result<Observed, Failure> {
        let email = self.invitee(account, attributes)?;
        Ok(Observed::from(
            self.standing(&email).await? != Standing::Absent,
        ))
    }

    fn invitee(
        &self,
        account: &AccountRef,
        attributes: &Map<String, Value>,
    ) -> Result<String, Failure> {
        invitee_email(account, attributes).ok_or_else(|| {
            Failure::unsupported(format!(
                "{}: github account {} has no email to invite",
                self.connection, account.login
            ))
        })
    }

    /// Invites the email unless it is invited or a member already.
    pub(super) async fn invite(
        &self,
        account: &AccountRef,
        attributes: &Map<String, Value>,
    ) -> Result<Applied, Failure> {
        let email = self.invitee(account, attributes)?;
        if self.standing(&email).await? != Standing::Absent {
            return Ok(Applied::AlreadyPresent);
        }
        let role = role_of(attributes).unwrap_or(DEFAULT_ROLE);
        let org = self.org().await?;
        let url = self.client.url(&["orgs", org, "invitations"], &[])?;
        match self
            .client
            .send(
                Method::POST,
                url,
                Some(json!({ "email": email, "role": role })),
                None,
            )
            .await
        {
            Ok(_) => Ok(Applied::Changed),
            // 422 for an email already a part of the organisation: another run (or a person) made it.
            Err(failure) if failure.is_status(422) => {
                if self.standing(&email).await? == Standing::Absent {
                    Err(failure)
                } else {
                    Ok(Applied::AlreadyPresent)
                }
            }
            Err(failure) => Err(failure),
        }
    }

    /// What is to be removed for `account`: an invitation by id, or a membership by login; `None` when
    /// nothing is there any more.
    async fn retiring(&self, account: &AccountRef) -> Result<Option<Standing>, Failure> {
        if let Some(id) = account.id.strip_prefix(INVITATION_PREFIX) {
            let id: u64 = id.parse().map_err(|_| {
                Failure::unsupported(format!(
                    "{}: {:?} is not a GitHub invitation id",
                    self.connection, account.id
                ))
            })?;
            let org = self.org().await?;
            let invitations = self
                .client
                .get_all(&["orgs", org, "invitations"], &[])
                .await?;
            let out = invitations
                .iter()
                .any(|i| i.get("id").and_then(Value::as_u64) == Some(id));
            return Ok(out.then_some(Standing::Invited { id, login: None }));
        }
        if let Some(email) = account.pending_email() {
            let standing = self.standing(email).await?;
            return Ok((standing != Standing::Absent).then_some(standing));
        }
        let org = self.org().await?;
        match self
            .client
            .get(&["orgs", org, "memberships", &account.login], None)
            .await
        {
            Ok(_) => Ok(Some(Standing::Member(account.login.clone()))),
            Err(failure) if is_not_found(&failure) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    pub(super) async fn retired(&self, account: &AccountRef) -> Result<Observed, Failure> {
        Ok(Observed::from(self.retiring(account).await?.is_none()))
    }

    /// Removes the membership, or cancels the invitation; gone already is `already_present`.
    pub(super) async fn retire(
        &self,
        account: &AccountRef,
        mode: RetireMode,
    ) -> Result<Applied, Failure> {
        check_retire(self.connection.as_str(), account, mode)?;
        let org = self.org().await?;
        let url = match self.retiring(account).await? {
            None | Some(Standing::Absent) => return Ok(Applied::AlreadyPresent),
            Some(
                Standing::Member(login)
                | Standing::Invited {
                    login: Some(login), ..
                },
            ) => {
                // Removes a member, and cancels a GitHub user's pending invitation.
                self.client
                    .url(&["orgs", org, "memberships", &login], &[])?
            }
            Some(Standing::Invited { id, login: None }) => self
                .client
                .url(&["orgs", org, "invitations", &id.to_string()], &[])?,
        };
        match self.client.send(Method::DELETE, url, None, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if is_not_found(&failure) => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        }
    }

    /// The login a `pending:<email>` account's grant acts on: a member's, or an invitee's who is a GitHub
    /// user (GitHub adds the team to the pending invitation). An email-only invitation waits for the
    /// invitee to sign up and accept; no invitation yet (its creation not visible) is retried.
    pub(super) async fn pending_login(&self, account: &AccountRef) -> Result<Resolved, Failure> {
        let email = match account.pending_email() {
            Some(email) => email,
            // An email-only invitation a sync read is named by its email.
            None if account.id.starts_with(INVITATION_PREFIX) => account.login.as_str(),
            None => return Ok(Resolved::Login(account.login.clone())),
        };
        Ok(match self.standing(email).await? {
            Standing::Member(login)
            | Standing::Invited {
                login: Some(login), ..
            } => Resolved::Login(login),
            Standing::Invited { login: None, .. } => Resolved::NotYet(Failure::Waiting {
                reason: format!("{email} has not accepted the GitHub invitation yet"),
                recheck_at: self.client.now() + INVITEE_RECHECK,
            }),
            Standing::Absent => Resolved::NotYet(Failure::retry_later(
                None,
                format!(
                    "{}: the github account of {email} does not exist yet",
                    self.connection
                ),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_invitation_needs_an_email_and_a_known_role() {
        let pending = AccountRef::pending("ann@example.com");
        assert!(check_create("github", &pending, &Map::new()).is_ok());
        assert!(check_create("github", &pending, &attributes(json!({"role": "admin"}))).is_ok());
        assert!(check_create("github", &pending, &attributes(json!({"role": "owner"}))).is_err());
        assert!(check_create("github", &pending, &attributes(json!({"team": "x"}))).is_err());
        let by_login = AccountRef {
            id: "pending:x".into(),
            login: "ann-gh".into(),
        };
        assert_eq!(
            invitee_email(&by_login, &attributes(json!({"email": "ann@example.com"}))).as_deref(),
            Some("ann@example.com")
        );
    }

    #[test]
    fn a_suspension_is_refused_naming_the_account_and_why() {
        let account = AccountRef {
            id: "7".into(),
            login: "ann-gh".into(),
        };
        let why = check_retire("github", &account, RetireMode::Suspend)
            .err()
            .map(|f| f.message())
            .unwrap_or_default();
        assert!(
            why.contains("ann-gh") && why.contains("no suspended state"),
            "{why}"
        );
        assert!(check_retire("github", &account, RetireMode::Deactivate).is_ok());
        assert!(check_retire("github", &account, RetireMode::Delete).is_ok());
    }
}
