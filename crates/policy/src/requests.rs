//! Requests as code: bundles people may ask for (and which of them are
//! break-glass), the approval rules a request goes through, and the
//! separation-of-duties conflicts no one may hold. They live in the same
//! files as policies (`bundles:`, `approvals:`, `conflicts:`), are checked
//! when loaded with located errors, and are compiled here once.

use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Condition, Diagnostic, GrantDoc, GrantSpec, Located};

/// A set of grants people ask for together, e.g. "payments on-call".
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleDoc {
    /// Unique among bundles; what people ask for (`grantflow request bundle "payments on-call"`).
    pub name: Located<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The grants the bundle gives (`authoritative` does not apply here).
    pub grants: Vec<GrantDoc>,
    /// Who may take the bundle without prior approval, for a short time (incidents).
    #[serde(default)]
    pub break_glass: Option<BreakGlassDoc>,
}

/// Taking a bundle at once, reviewed afterwards.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassDoc {
    /// A CEL condition over `person` (the one taking it): who may.
    pub who: Located<String>,
    /// The longest it may be held, e.g. `1h`.
    pub max_duration: Located<String>,
    /// The channel told at once: a Slack connection and channel name.
    pub notify: NotifyDoc,
    /// Who reviews it after the fact (the review is opened at once).
    pub reviewers: ReviewersDoc,
}

/// A chat channel to tell.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyDoc {
    /// The Slack connection from grantflow.yaml.
    pub system: String,
    /// The channel's name (without `#`) or id.
    pub channel: String,
}

/// An approval rule: what it covers and the chain of reviews it needs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDoc {
    /// Unique among approval rules; named in each request it decides.
    pub name: Located<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What the rule covers; the first rule (in file order) covering anything a request asks for decides it.
    pub applies_to: Vec<TargetDoc>,
    /// The reviews, in order; each must pass before the next is asked. None: only `auto_approve` or a refusal.
    #[serde(default)]
    pub stages: Vec<StageDoc>,
    /// A CEL condition over `person` (who the access is for), `request` (`kind`, `duration_seconds`,
    /// `requester`, `ticket`, `systems`, `resources`, `actions`) and `reach` (`production`, `services`): when
    /// it holds, the request is approved without reviews (e.g. `!reach.production`).
    #[serde(default)]
    pub auto_approve: Option<Located<String>>,
    /// The people who own what the rule covers, for stages with `owner: true`.
    #[serde(default)]
    pub owners: Vec<String>,
    /// The longest access the rule grants, e.g. `8h`; longer requests are refused. Omitted: no limit.
    #[serde(default)]
    pub max_duration: Option<Located<String>>,
    /// How long a request may wait for its reviews before it expires (default `7d`).
    #[serde(default)]
    pub pending_expiry: Option<Located<String>>,
    /// When a request must hold a time limit (`max_duration` then applies as the default).
    #[serde(default)]
    pub duration_required: bool,
}

/// Something an approval rule covers: a resource, a bundle, or an account action.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    /// With `resource`: the connection from grantflow.yaml. Alone: every grant in that system.
    #[serde(default)]
    pub system: Option<Located<String>>,
    /// `<kind>/<name>`, e.g. `group/Payments Admins`.
    #[serde(default)]
    pub resource: Option<Located<String>>,
    /// A bundle's name.
    #[serde(default)]
    pub bundle: Option<Located<String>>,
    /// An account action (`reset_mfa`, `suspend`, `unlock`, `reset_password`, …); `*` for every action.
    #[serde(default)]
    pub action: Option<Located<String>>,
    /// A CEL condition over `person` (the one the access or action is for) and `groups` (their
    /// directory groups' names), narrowing the target, e.g. `"Executives" in groups`.
    #[serde(default)]
    pub when: Option<Located<String>>,
}

/// One review of a chain.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageDoc {
    /// How the stage is shown (default: who reviews, e.g. "manager").
    #[serde(default)]
    pub name: Option<String>,
    pub reviewers: ReviewersDoc,
    /// How many different reviewers must approve (default 1: any one of them).
    #[serde(default)]
    pub approvals: Option<u32>,
    /// After this long without a decision, `escalate_to` may decide too, e.g. `4h`.
    #[serde(default)]
    pub sla: Option<Located<String>>,
    /// Who is added to the stage's reviewers once the SLA has passed.
    #[serde(default)]
    pub escalate_to: Option<ReviewersDoc>,
}

/// Who reviews: any of these (together, one pool of people).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewersDoc {
    /// The manager of the person the access is for, from the directory (`manager`, a login or email).
    #[serde(default)]
    pub manager: bool,
    /// The rule's owners.
    #[serde(default)]
    pub owner: bool,
    /// Members of a directory group (by name), as of the last sync.
    #[serde(default)]
    pub group: Option<String>,
    /// Named people (emails).
    #[serde(default)]
    pub people: Vec<String>,
    /// Anyone holding grantflow's `approver` role.
    #[serde(default)]
    pub approvers: bool,
}

/// A separation-of-duties conflict: no one may hold both sides.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictDoc {
    /// Unique among conflicts; named in reviews, plans and findings.
    pub name: Located<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A CEL condition over `grants`, the person's grants in every system as
    /// `"<connection>:<kind>/<name>"` strings (e.g. `"okta:group/Payments Admins" in grants
    /// && "salesforce:permission_set/Finance_Approver" in grants`).
    pub when: Located<String>,
    /// Whether a request that would create the conflict is refused (default: shown to reviewers only).
    #[serde(default)]
    pub blocking: bool,
}

/// A compiled bundle.
#[derive(Debug)]
pub struct Bundle {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub grants: Vec<GrantSpec>,
    pub break_glass: Option<BreakGlass>,
}

#[derive(Debug)]
pub struct BreakGlass {
    pub who: Condition,
    pub max_duration: Duration,
    pub notify: NotifyDoc,
    pub reviewers: Reviewers,
}

/// A compiled approval rule.
#[derive(Debug)]
pub struct ApprovalRule {
    pub name: String,
    pub file: PathBuf,
    pub targets: Vec<Target>,
    pub stages: Vec<Stage>,
    pub auto_approve: Option<Condition>,
    pub owners: Vec<String>,
    pub max_duration: Option<Duration>,
    pub pending_expiry: Duration,
    pub duration_required: bool,
}

#[derive(Debug)]
pub struct Target {
    pub what: TargetKind,
    pub when: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// Every grant in a connection.
    System(String),
    /// One resource of a connection (`kind`, `name`).
    Resource {
        connection: String,
        kind: String,
        name: String,
    },
    Bundle(String),
    /// An account action's verb; `*` is every action.
    Action(String),
}

#[derive(Debug)]
pub struct Stage {
    pub name: String,
    pub reviewers: Reviewers,
    pub approvals: u32,
    pub sla: Option<Duration>,
    pub escalate_to: Option<Reviewers>,
}

/// Who reviews, as written (resolved to people per request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reviewers {
    pub manager: bool,
    pub owner: bool,
    pub group: Option<String>,
    pub people: Vec<String>,
    pub approvers: bool,
}

impl Reviewers {
    /// How a stage without a name is called: who reviews.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.manager {
            parts.push("manager".to_string());
        }
        if self.owner {
            parts.push("owner".to_string());
        }
        if let Some(group) = &self.group {
            parts.push(format!("group {group}"));
        }
        if !self.people.is_empty() {
            parts.push(self.people.join(", "));
        }
        if self.approvers {
            parts.push("approvers".to_string());
        }
        parts.join(" or ")
    }

    fn is_empty(&self) -> bool {
        *self == Reviewers::default()
    }
}

/// A compiled conflict rule.
#[derive(Debug)]
pub struct Conflict {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub when: Condition,
    pub blocking: bool,
}

/// How long a request waits for its reviews when its rule does not say.
pub const DEFAULT_PENDING_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// Durations as people write them: `30d`, `12h`, `90m`, `3600s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid =
        || format!("\"{text}\" is not a duration: write a number and a unit, e.g. 30d, 12h, 90m");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

fn duration_at(value: &Located<String>, path: &Path) -> Result<Duration, Diagnostic> {
    match parse_duration(&value.value) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(value.diagnostic(path, "a duration must be longer than zero")),
        Err(message) => Err(value.diagnostic(path, message)),
    }
}

fn condition_at(value: &Located<String>, path: &Path) -> Result<Condition, Diagnostic> {
    Condition::compile(&value.value).map_err(|message| value.diagnostic(path, message))
}

impl ReviewersDoc {
    fn compile(&self, at: &Located<String>, path: &Path) -> Result<Reviewers, Diagnostic> {
        let reviewers = Reviewers {
            manager: self.manager,
            owner: self.owner,
            group: self.group.clone().filter(|g| !g.trim().is_empty()),
            people: self
                .people
                .iter()
                .map(|p| p.trim().to_lowercase())
                .collect(),
            approvers: self.approvers,
        };
        if reviewers.is_empty() {
            return Err(at.diagnostic(
                path,
                "reviewers name no one: use manager, owner, group, people or approvers",
            ));
        }
        Ok(reviewers)
    }
}

impl BundleDoc {
    pub(crate) fn compile(&self, path: &Path) -> Result<Bundle, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        if self.name.value.trim().is_empty() {
            problems.push(
                self.name
                    .diagnostic(path, "a bundle's name must not be empty"),
            );
        }
        if self.grants.is_empty() {
            problems.push(self.name.diagnostic(
                path,
                format!("bundle \"{}\" grants nothing", self.name.value),
            ));
        }
        let mut grants = Vec::new();
        for grant in &self.grants {
            match grant.to_spec(path) {
                Ok(spec) => grants.push(spec),
                Err(d) => problems.push(d),
            }
        }
        let break_glass = match &self.break_glass {
            None => None,
            Some(doc) => {
                let who = condition_at(&doc.who, path);
                let max = duration_at(&doc.max_duration, path);
                let reviewers = doc.reviewers.compile(&self.name, path);
                match (who, max, reviewers) {
                    (Ok(who), Ok(max_duration), Ok(reviewers)) => Some(BreakGlass {
                        who,
                        max_duration,
                        notify: doc.notify.clone(),
                        reviewers,
                    }),
                    (who, max, reviewers) => {
                        problems.extend(who.err());
                        problems.extend(max.err());
                        problems.extend(reviewers.err());
                        None
                    }
                }
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Bundle {
            name: self.name.value.trim().to_string(),
            description: self.description.clone(),
            file: path.to_path_buf(),
            grants,
            break_glass,
        })
    }
}

impl TargetDoc {
    fn compile(&self, rule: &Located<String>, path: &Path) -> Result<Target, Diagnostic> {
        let what = match (&self.system, &self.resource, &self.bundle, &self.action) {
            (Some(system), Some(resource), None, None) => {
                let (kind, name) = crate::file::split_resource(resource, path)?;
                TargetKind::Resource {
                    connection: system.value.trim().to_string(),
                    kind,
                    name,
                }
            }
            (Some(system), None, None, None) => TargetKind::System(system.value.trim().to_string()),
            (None, None, Some(bundle), None) => TargetKind::Bundle(bundle.value.trim().to_string()),
            (None, None, None, Some(action)) => {
                TargetKind::Action(action.value.trim().to_lowercase().replace('-', "_"))
            }
            _ => {
                return Err(rule.diagnostic(
                    path,
                    "each `applies_to` entry names one of: `system` (with an optional `resource`), `bundle` or `action`",
                ));
            }
        };
        let when = self
            .when
            .as_ref()
            .map(|w| condition_at(w, path))
            .transpose()?;
        Ok(Target { what, when })
    }
}

impl ApprovalDoc {
    pub(crate) fn compile(&self, path: &Path) -> Result<ApprovalRule, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        if self.name.value.trim().is_empty() {
            problems.push(
                self.name
                    .diagnostic(path, "an approval rule's name must not be empty"),
            );
        }
        if self.applies_to.is_empty() {
            problems.push(self.name.diagnostic(
                path,
                format!(
                    "approval rule \"{}\" applies to nothing: list what it covers under `applies_to`",
                    self.name.value
                ),
            ));
        }
        let mut targets = Vec::new();
        for target in &self.applies_to {
            match target.compile(&self.name, path) {
                Ok(t) => targets.push(t),
                Err(d) => problems.push(d),
            }
        }
        let mut stages = Vec::new();
        for stage in &self.stages {
            let reviewers = match stage.reviewers.compile(&self.name, path) {
                Ok(r) => r,
                Err(d) => {
                    problems.push(d);
                    continue;
                }
            };
            let approvals = stage.approvals.unwrap_or(1);
            if approvals == 0 {
                problems.push(self.name.diagnostic(
                    path,
                    "a stage needs at least one approval (`approvals: 1` or more)",
                ));
            }
            if reviewers.owner && self.owners.is_empty() {
                problems.push(self.name.diagnostic(
                    path,
                    format!(
                        "approval rule \"{}\" asks its owner to review but names no `owners`",
                        self.name.value
                    ),
                ));
            }
            let sla = match stage.sla.as_ref().map(|s| duration_at(s, path)).transpose() {
                Ok(sla) => sla,
                Err(d) => {
                    problems.push(d);
                    None
                }
            };
            let escalate_to = match stage
                .escalate_to
                .as_ref()
                .map(|r| r.compile(&self.name, path))
                .transpose()
            {
                Ok(e) => e,
                Err(d) => {
                    problems.push(d);
                    None
                }
            };
            if escalate_to.is_some() && sla.is_none() {
                problems.push(self.name.diagnostic(
                    path,
                    "`escalate_to` needs an `sla`: after how long the request escalates",
                ));
            }
            stages.push(Stage {
                name: stage.name.clone().unwrap_or_else(|| reviewers.describe()),
                reviewers,
                approvals,
                sla,
                escalate_to,
            });
        }
        if self.stages.is_empty() && self.auto_approve.is_none() {
            problems.push(self.name.diagnostic(
                path,
                format!(
                    "approval rule \"{}\" has neither `stages` nor `auto_approve`: nothing could approve a request",
                    self.name.value
                ),
            ));
        }
        let auto_approve = match self
            .auto_approve
            .as_ref()
            .map(|a| condition_at(a, path))
            .transpose()
        {
            Ok(a) => a,
            Err(d) => {
                problems.push(d);
                None
            }
        };
        let max_duration = match self
            .max_duration
            .as_ref()
            .map(|m| duration_at(m, path))
            .transpose()
        {
            Ok(m) => m,
            Err(d) => {
                problems.push(d);
                None
            }
        };
        if self.duration_required && max_duration.is_none() {
            problems.push(
                self.name
                    .diagnostic(path, "`duration_required` needs a `max_duration`"),
            );
        }
        let pending_expiry = match self
            .pending_expiry
            .as_ref()
            .map(|m| duration_at(m, path))
            .transpose()
        {
            Ok(m) => m.unwrap_or(DEFAULT_PENDING_EXPIRY),
            Err(d) => {
                problems.push(d);
                DEFAULT_PENDING_EXPIRY
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ApprovalRule {
            name: self.name.value.trim().to_string(),
            file: path.to_path_buf(),
            targets,
            stages,
            auto_approve,
            owners: self
                .owners
                .iter()
                .map(|o| o.trim().to_lowercase())
                .collect(),
            max_duration,
            pending_expiry,
            duration_required: self.duration_required,
        })
    }
}

impl ConflictDoc {
    pub(crate) fn compile(&self, path: &Path) -> Result<Conflict, Diagnostic> {
        if self.name.value.trim().is_empty() {
            return Err(self
                .name
                .diagnostic(path, "a conflict's name must not be empty"));
        }
        Ok(Conflict {
            name: self.name.value.trim().to_string(),
            description: self.description.clone(),
            file: path.to_path_buf(),
            when: condition_at(&self.when, path)?,
            blocking: self.blocking,
        })
    }
}
