//! The emulated GitHub organisation: users, org memberships and invitations, teams with members and repository
//! permissions, repositories, write counts, and the JSON shapes GitHub answers with.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::rate_limit::Limits;
use crate::emulator::{Core, Seeded, Writes};

/// What the GitHub emulator is seeded with (the `github:` section of an organisation file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSeed {
    /// The organisation's login, as in `/orgs/{org}`.
    pub org: String,
    #[serde(default)]
    pub users: Vec<GithubSeedUser>,
    #[serde(default)]
    pub repos: Vec<GithubSeedRepo>,
    #[serde(default)]
    pub teams: Vec<GithubSeedTeam>,
}

/// Org standing a seeded user starts in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedMembership {
    #[default]
    Member,
    Admin,
    /// Invited, not yet accepted.
    Invited,
    /// A GitHub user outside the organisation.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSeedUser {
    pub login: String,
    pub name: String,
    /// The work email grantflow correlates the account by (GitHub's verified, public email).
    pub email: String,
    #[serde(default)]
    pub membership: SeedMembership,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSeedRepo {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub private: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSeedTeam {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub maintainers: Vec<String>,
    /// Repository name → permission (pull, triage, push, maintain, admin).
    #[serde(default)]
    pub repos: BTreeMap<String, String>,
}

pub const PERMISSIONS: [&str; 5] = ["pull", "triage", "push", "maintain", "admin"];

impl GithubSeed {
    /// Team members must be seeded org members, repositories seeded and permissions GitHub's five.
    pub fn validate(&self) -> anyhow::Result<()> {
        let members: std::collections::BTreeSet<String> = self
            .users
            .iter()
            .filter(|u| matches!(u.membership, SeedMembership::Member | SeedMembership::Admin))
            .map(|u| u.login.to_lowercase())
            .collect();
        let repos: std::collections::BTreeSet<String> =
            self.repos.iter().map(|r| r.name.to_lowercase()).collect();
        for t in &self.teams {
            for login in t.members.iter().chain(&t.maintainers) {
                if !members.contains(&login.to_lowercase()) {
                    anyhow::bail!(
                        "github team {:?} lists {login}, who is not an org member",
                        t.name
                    );
                }
            }
            for (repo, permission) in &t.repos {
                if !repos.contains(&repo.to_lowercase()) {
                    anyhow::bail!("github team {:?} lists unknown repository {repo}", t.name);
                }
                if !PERMISSIONS.contains(&permission.as_str()) {
                    anyhow::bail!(
                        "github team {:?} gives {repo} unknown permission {permission}",
                        t.name
                    );
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub login: String,
    pub name: String,
    pub email: String,
    /// When a site administrator suspended the account (GitHub Enterprise Server's `suspended_at`).
    pub suspended_at: Option<DateTime<Utc>>,
}

/// An org membership; `pending` is an invitation not yet accepted.
#[derive(Debug, Clone)]
pub struct Membership {
    pub role: String,
    pub pending: bool,
    pub invitation_id: u64,
    pub since: DateTime<Utc>,
}

/// An invitation of an email no GitHub user has (yet): `login` is null until the invitee signs up and
/// accepts.
#[derive(Debug, Clone)]
pub struct EmailInvitation {
    pub id: u64,
    pub email: String,
    /// `admin`, `member` or `billing_manager`.
    pub role: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TeamMember {
    pub role: String,
    pub pending: bool,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: u64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub created: DateTime<Utc>,
    /// Keyed by lower-case login.
    pub members: BTreeMap<String, TeamMember>,
    /// Lower-case repository name → permission.
    pub repos: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub private: bool,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub users: BTreeMap<String, User>,
    pub memberships: BTreeMap<String, Membership>,
    /// By invitation id.
    pub email_invitations: BTreeMap<u64, EmailInvitation>,
    pub teams: BTreeMap<String, Team>,
    pub repos: BTreeMap<String, Repo>,
    pub writes: Writes,
    pub next_id: u64,
}

/// One GitHub organisation behind the HTTP layer.
#[derive(Debug)]
pub struct Github {
    pub(crate) core: Core<Inner, Limits>,
    pub token: String,
    pub org: String,
    pub org_id: u64,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// GitHub's slug: lower case, runs of anything but letters and digits become one `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// What a team permission grants, as `permissions` booleans and the `role_name` GitHub reports.
pub fn permission_json(permission: &str) -> (Value, &'static str) {
    let rank = PERMISSIONS
        .iter()
        .position(|p| *p == permission)
        .unwrap_or(0);
    let has = |p: &str| {
        PERMISSIONS
            .iter()
            .position(|x| *x == p)
            .is_some_and(|r| r <= rank)
    };
    let role_name = match permission {
        "admin" => "admin",
        "maintain" => "maintain",
        "push" => "write",
        "triage" => "triage",
        _ => "read",
    };
    (
        json!({"admin": has("admin"), "maintain": has("maintain"), "push": has("push"),
               "triage": has("triage"), "pull": true}),
        role_name,
    )
}

impl Github {
    pub fn org_json(&self, base: &str) -> Value {
        let org = &self.org;
        json!({
            "login": org, "id": self.org_id, "node_id": format!("O_sbx{}", self.org_id),
            "url": format!("{base}/orgs/{org}"),
            "repos_url": format!("{base}/orgs/{org}/repos"),
            "members_url": format!("{base}/orgs/{org}/members{{/member}}"),
            "public_members_url": format!("{base}/orgs/{org}/public_members{{/member}}"),
            "html_url": format!("https://github.com/{org}"),
            "avatar_url": "", "description": "", "name": org, "type": "Organization",
        })
    }
}

impl Seeded for Inner {
    type Seed = GithubSeed;

    fn seeded(seed: &GithubSeed, now: DateTime<Utc>) -> Self {
        let mut inner = Inner::default();
        for u in &seed.users {
            let id = inner.new_id();
            let key = u.login.to_lowercase();
            inner.users.insert(
                key.clone(),
                User {
                    id,
                    login: u.login.clone(),
                    name: u.name.clone(),
                    email: u.email.clone(),
                    suspended_at: None,
                },
            );
            let role = match u.membership {
                SeedMembership::Admin => "admin",
                _ => "member",
            };
            if u.membership != SeedMembership::None {
                let invitation_id = inner.new_id();
                inner.memberships.insert(
                    key,
                    Membership {
                        role: role.into(),
                        pending: u.membership == SeedMembership::Invited,
                        invitation_id,
                        since: now,
                    },
                );
            }
        }
        for r in &seed.repos {
            let id = inner.new_id();
            inner.repos.insert(
                r.name.to_lowercase(),
                Repo {
                    id,
                    name: r.name.clone(),
                    description: r.description.clone().unwrap_or_default(),
                    private: r.private,
                },
            );
        }
        for t in &seed.teams {
            let id = inner.new_id();
            let mut members = BTreeMap::new();
            for (logins, role) in [(&t.members, "member"), (&t.maintainers, "maintainer")] {
                for login in logins {
                    members.insert(
                        login.to_lowercase(),
                        TeamMember {
                            role: role.into(),
                            pending: false,
                        },
                    );
                }
            }
            let slug = slugify(&t.name);
            inner.teams.insert(
                slug.clone(),
                Team {
                    id,
                    name: t.name.clone(),
                    slug,
                    description: t.description.clone().unwrap_or_default(),
                    created: now,
                    members,
                    repos: t
                        .repos
                        .iter()
                        .map(|(r, p)| (r.to_lowercase(), p.clone()))
                        .collect(),
                },
            );
        }
        inner
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        1_000 + self.next_id
    }

    /// A user by login or public email, case-insensitively; the key is the lower-case login.
    pub fn find_user(&self, who: &str) -> Option<String> {
        let key = who.to_lowercase();
        if self.users.contains_key(&key) {
            return Some(key);
        }
        self.users
            .iter()
            .find(|(_, u)| u.email.eq_ignore_ascii_case(who))
            .map(|(k, _)| k.clone())
    }

    pub fn is_active_member(&self, login: &str) -> bool {
        self.memberships
            .get(&login.to_lowercase())
            .is_some_and(|m| !m.pending)
    }

    /// The simple-user shape; `email` is the user's public email, which grantflow correlates by, and
    /// `suspended_at` is GitHub Enterprise Server's (null while the account is usable).
    pub fn user_json(&self, u: &User, base: &str) -> Value {
        json!({
            "login": u.login, "id": u.id, "node_id": format!("U_sbx{}", u.id),
            "avatar_url": "", "gravatar_id": "",
            "url": format!("{base}/users/{}", u.login),
            "html_url": format!("https://github.com/{}", u.login),
            "type": "User", "site_admin": false,
            "name": u.name, "email": u.email,
            "suspended_at": u.suspended_at.map(ts),
        })
    }

    pub fn team_json(&self, t: &Team, org: &str, base: &str) -> Value {
        let me = format!("{base}/orgs/{org}/teams/{}", t.slug);
        json!({
            "id": t.id, "node_id": format!("T_sbx{}", t.id),
            "url": me,
            "html_url": format!("https://github.com/orgs/{org}/teams/{}", t.slug),
            "name": t.name, "slug": t.slug, "description": t.description,
            "privacy": "closed", "notification_setting": "notifications_enabled",
            "permission": "pull",
            "members_url": format!("{me}/members{{/member}}"),
            "repositories_url": format!("{me}/repos"),
            "parent": Value::Null,
            "members_count": t.members.values().filter(|m| !m.pending).count(),
            "repos_count": t.repos.len(),
            "created_at": ts(t.created), "updated_at": ts(t.created),
        })
    }

    pub fn repo_json(&self, r: &Repo, org: &str, org_id: u64, base: &str) -> Value {
        json!({
            "id": r.id, "node_id": format!("R_sbx{}", r.id),
            "name": r.name, "full_name": format!("{org}/{}", r.name),
            "owner": {"login": org, "id": org_id, "type": "Organization", "url": format!("{base}/users/{org}"),
                      "html_url": format!("https://github.com/{org}"), "site_admin": false},
            "private": r.private, "visibility": if r.private { "private" } else { "public" },
            "html_url": format!("https://github.com/{org}/{}", r.name),
            "url": format!("{base}/repos/{org}/{}", r.name),
            "description": r.description, "fork": false, "archived": false, "default_branch": "main",
        })
    }
}
