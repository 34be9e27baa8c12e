//! Policy files: who should have what, as code.
//!
//! A policy file is YAML with a list of policies; each has a name, a CEL
//! condition over a person's attributes and the grants a matching person
//! should hold. Loading reports every problem at once with file:line:column;
//! nothing downstream ever sees a half-valid policy set.
//!
//! Architecture invariant: this crate knows no vendor API. It validates grant
//! references against synced snapshots (common-model types), not against
//! Okta or any other system directly.

mod accounts;
mod attributes;
mod check;
mod diagnostic;
mod expr;
mod file;
mod located;
mod requests;

pub use accounts::{AccountDoc, AccountSpec, RetireDoc};
pub use attributes::{AttributeCatalog, CANONICAL_ATTRIBUTES, KnownAttribute, Origin};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use expr::{Condition, person_value};
pub use file::{
    GrantDoc, PolicyDoc, PolicyFile, PushDoc, RemediationMode, ResourceDoc, ResourceRefDoc,
};
pub use located::Located;
pub use requests::{
    ApprovalDoc, ApprovalRule, BreakGlass, BreakGlassDoc, Bundle, BundleDoc, Conflict, ConflictDoc,
    DEFAULT_PENDING_EXPIRY, NotifyDoc, Reviewers, ReviewersDoc, Stage, StageDoc, Target, TargetDoc,
    TargetKind, parse_duration,
};

use grantflow_model::{ConnectionName, PENDING_PREFIX, Person, Resource, ResourceKind, Snapshot};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One loaded, compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub condition: Condition,
    /// Where `when` was written (none for a policy without one).
    pub condition_at: Option<Located<()>>,
    pub grants: Vec<GrantSpec>,
    /// Attributes set on matching people's accounts, per system.
    pub profile: Vec<ProfileSpec>,
    /// The accounts matching people must have, per system (created when missing).
    pub accounts: Vec<AccountSpec>,
    /// How drift on this policy's resources is handled, when the policy says.
    pub drift: Option<RemediationMode>,
}

/// The profile attributes a policy sets in one system.
#[derive(Debug)]
pub struct ProfileSpec {
    pub connection: ConnectionName,
    pub attributes: Vec<ProfileValue>,
    /// Where the system was written.
    pub system_at: Located<()>,
}

/// One attribute and the expression over `person` that gives its value.
#[derive(Debug)]
pub struct ProfileValue {
    pub name: String,
    pub expression: Condition,
    /// Where the expression was written.
    pub at: Located<()>,
}

/// A grant as a policy asks for it: which connection, which resource (kind
/// and name, as people write them) and which entitlement.
#[derive(Debug, Clone)]
pub struct GrantSpec {
    pub connection: ConnectionName,
    pub resource_kind: String,
    pub resource_name: String,
    /// `None` means the resource's default entitlement.
    pub entitlement: Option<String>,
    /// Whether the policy manages the resource (removes what it does not grant).
    pub authoritative: bool,
    /// Where the grant was written, for errors found after loading.
    pub at: Located<()>,
}

/// A resource in a system by kind and name, as a policy file names it.
#[derive(Debug, Clone)]
pub struct ResourceSpecRef {
    pub connection: ConnectionName,
    pub kind: String,
    pub name: String,
    /// Where the resource and the system were written.
    pub at: Located<()>,
    pub system_at: Located<()>,
}

impl ResourceSpecRef {
    /// `(connection, kind, name)`, the key a plan's creations are found by.
    pub fn key(&self) -> (ConnectionName, String, String) {
        (
            self.connection.clone(),
            self.kind.clone(),
            self.name.clone(),
        )
    }
}

/// A resource a policy file declares: it is created when the last sync does not have it.
#[derive(Debug, Clone)]
pub struct DeclaredResource {
    pub file: PathBuf,
    pub target: ResourceSpecRef,
    pub spec: serde_json::Map<String, serde_json::Value>,
    pub requires: Vec<ResourceSpecRef>,
}

/// A group push a policy file declares.
#[derive(Debug, Clone)]
pub struct DeclaredPush {
    pub file: PathBuf,
    /// The directory group (kind `group`) in `connection`.
    pub group: ResourceSpecRef,
    /// The directory app (kind `app`), by label.
    pub app: ResourceSpecRef,
    pub target_name: Option<String>,
    pub creates: Option<ResourceSpecRef>,
}

/// The kind of a directory group and app, as connectors name them.
const GROUP_KIND: &str = "group";
const APP_KIND: &str = "app";

/// Every policy loaded from a set of files.
#[derive(Debug, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
    pub resources: Vec<DeclaredResource>,
    pub pushes: Vec<DeclaredPush>,
    pub bundles: Vec<Bundle>,
    pub approvals: Vec<ApprovalRule>,
    pub conflicts: Vec<Conflict>,
    /// Each file's text, to place problems found inside a condition.
    sources: BTreeMap<PathBuf, String>,
}

impl PolicySet {
    /// Loads every `*.yaml`/`*.yml` file under `path` (or the single file
    /// `path`), in name order. All problems are returned together.
    pub fn load(path: &Path) -> Result<PolicySet, Diagnostics> {
        let files = policy_files(path)
            .map_err(|message| Diagnostics(vec![Diagnostic::whole_file(path, message)]))?;
        let mut sources = Vec::new();
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => sources.push((file, text)),
                Err(error) => {
                    return Err(Diagnostics(vec![Diagnostic::whole_file(
                        &file,
                        format!("cannot read policy file: {error}"),
                    )]));
                }
            }
        }
        Self::from_sources(sources)
    }

    /// Parses and compiles policies from in-memory sources (file name, text).
    pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<PolicySet, Diagnostics> {
        let mut problems = Vec::new();
        let mut policies = Vec::new();
        let mut resources = Vec::new();
        let mut pushes = Vec::new();
        let mut bundles = Vec::new();
        let mut approvals = Vec::new();
        let mut conflicts = Vec::new();
        let mut seen_names: BTreeMap<String, Diagnostic> = BTreeMap::new();
        // Bundles, approval rules and conflicts are named in requests and reviews: unique per kind.
        let mut seen_other: BTreeMap<(&'static str, String), Diagnostic> = BTreeMap::new();
        let mut unique = |kind: &'static str,
                          name: &Located<String>,
                          path: &Path,
                          problems: &mut Vec<Diagnostic>| {
            let key = (kind, name.value.trim().to_lowercase());
            if let Some(first) = seen_other.get(&key) {
                problems.push(name.diagnostic(
                    path,
                    format!(
                        "{kind} name \"{}\" is already used at {}",
                        name.value,
                        first.position()
                    ),
                ));
            } else {
                seen_other.insert(key, name.diagnostic(path, ""));
            }
        };
        for (path, text) in &sources {
            let parsed = match file::parse(path, text) {
                Ok(parsed) => parsed,
                Err(diagnostic) => {
                    problems.push(diagnostic);
                    continue;
                }
            };
            for doc in &parsed.resources {
                let target = doc.to_ref_parts(path);
                let requires: Vec<_> = doc.requires.iter().map(|r| r.to_ref(path)).collect();
                match target {
                    Ok(target) => {
                        let mut ok = Vec::new();
                        for r in requires {
                            match r {
                                Ok(r) => ok.push(r),
                                Err(d) => problems.push(d),
                            }
                        }
                        resources.push(DeclaredResource {
                            file: path.clone(),
                            target,
                            spec: doc.spec.clone().unwrap_or_default(),
                            requires: ok,
                        });
                    }
                    Err(d) => problems.push(d),
                }
            }
            for doc in &parsed.pushes {
                let named = |value: &Located<String>, kind: &str| ResourceSpecRef {
                    connection: ConnectionName::new(doc.system.value.clone()),
                    kind: kind.to_string(),
                    name: value.value.clone(),
                    at: value.position(),
                    system_at: doc.system.position(),
                };
                if doc.group.value.trim().is_empty() || doc.app.value.trim().is_empty() {
                    problems.push(
                        doc.system
                            .diagnostic(path, "a push names its `group` and `app`"),
                    );
                    continue;
                }
                let creates = match doc.creates.as_ref().map(|c| c.to_ref(path)).transpose() {
                    Ok(creates) => creates,
                    Err(d) => {
                        problems.push(d);
                        continue;
                    }
                };
                pushes.push(DeclaredPush {
                    file: path.clone(),
                    group: named(&doc.group, GROUP_KIND),
                    app: named(&doc.app, APP_KIND),
                    target_name: doc.target_name.clone(),
                    creates,
                });
            }
            for doc in &parsed.bundles {
                unique("bundle", &doc.name, path, &mut problems);
                match doc.compile(path) {
                    Ok(bundle) => bundles.push(bundle),
                    Err(found) => problems.extend(found),
                }
            }
            for doc in &parsed.approvals {
                unique("approval rule", &doc.name, path, &mut problems);
                match doc.compile(path) {
                    Ok(rule) => approvals.push(rule),
                    Err(found) => problems.extend(found),
                }
            }
            for doc in &parsed.conflicts {
                unique("conflict", &doc.name, path, &mut problems);
                match doc.compile(path) {
                    Ok(conflict) => conflicts.push(conflict),
                    Err(found) => problems.push(found),
                }
            }
            for doc in parsed.policies {
                let name = doc.name.value.clone();
                if name.trim().is_empty() {
                    problems.push(doc.name.diagnostic(path, "policy name must not be empty"));
                }
                if let Some(first) = seen_names.get(&name) {
                    problems.push(doc.name.diagnostic(
                        path,
                        format!(
                            "policy name \"{name}\" is already used at {}",
                            first.position()
                        ),
                    ));
                } else {
                    seen_names.insert(name.clone(), doc.name.diagnostic(path, ""));
                }
                let condition = match &doc.when {
                    Some(when) => match Condition::compile(&when.value) {
                        Ok(condition) => condition,
                        Err(message) => {
                            problems.push(when.diagnostic(path, message));
                            continue;
                        }
                    },
                    None => Condition::always(),
                };
                let mut grants = Vec::new();
                if doc.grants.is_empty() && doc.profile.is_empty() && doc.accounts.is_empty() {
                    problems.push(doc.name.diagnostic(
                        path,
                        format!("policy \"{name}\" grants nothing and sets nothing: add at least one entry under `grants`, `profile` or `accounts`"),
                    ));
                }
                let accounts = accounts::compile(&doc.accounts, path, &mut problems);
                let mut profile = Vec::new();
                for doc in &doc.profile {
                    let mut attributes = Vec::new();
                    for (attribute, source) in &doc.set {
                        if attribute.trim().is_empty() {
                            problems
                                .push(source.diagnostic(path, "a profile attribute needs a name"));
                            continue;
                        }
                        match Condition::compile(&source.value) {
                            Ok(expression) => attributes.push(ProfileValue {
                                name: attribute.clone(),
                                expression,
                                at: source.position(),
                            }),
                            Err(message) => problems.push(source.diagnostic(
                                path,
                                format!("profile attribute `{attribute}`: {message}"),
                            )),
                        }
                    }
                    profile.push(ProfileSpec {
                        connection: ConnectionName::new(doc.system.value.clone()),
                        attributes,
                        system_at: doc.system.position(),
                    });
                }
                for grant in &doc.grants {
                    match grant.to_spec(path) {
                        Ok(spec) => grants.push(spec),
                        Err(diagnostic) => problems.push(diagnostic),
                    }
                }
                policies.push(Policy {
                    name,
                    description: doc.description.clone(),
                    file: path.clone(),
                    condition,
                    condition_at: doc.when.as_ref().map(Located::position),
                    grants,
                    profile,
                    accounts,
                    drift: doc.drift,
                });
            }
        }
        for rule in &approvals {
            for target in &rule.targets {
                if let TargetKind::Bundle(name) = &target.what
                    && !bundles.iter().any(|b| b.name.eq_ignore_ascii_case(name))
                {
                    problems.push(Diagnostic::whole_file(
                        &rule.file,
                        format!("approval rule \"{}\" applies to bundle \"{name}\", which no policy file declares", rule.name),
                    ));
                }
            }
        }
        let set = PolicySet {
            policies,
            resources,
            pushes,
            bundles,
            approvals,
            conflicts,
            sources: sources.into_iter().collect(),
        };
        // What is wrong whatever the directory holds (types of the built-in
        // attributes, a condition that is not a boolean) is wrong now.
        if let Err(Diagnostics(found)) = set.check_conditions(None) {
            problems.extend(found);
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// The conflict rules a person holding `grants` (each
    /// `"<connection>:<kind>/<name>"`) is in, by position.
    pub fn conflicts_for(
        &self,
        grants: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<usize>, String> {
        if self.conflicts.is_empty() {
            return Ok(vec![]);
        }
        let mut variables = serde_json::Map::new();
        variables.insert(
            "grants".into(),
            serde_json::Value::Array(
                grants
                    .iter()
                    .cloned()
                    .map(serde_json::Value::String)
                    .collect(),
            ),
        );
        let mut found = Vec::new();
        for (index, conflict) in self.conflicts.iter().enumerate() {
            if conflict
                .when
                .evaluate_with(&variables)
                .map_err(|e| format!("conflict \"{}\": {e}", conflict.name))?
            {
                found.push(index);
            }
        }
        Ok(found)
    }

    /// Whether any policy declares accounts (`accounts:`), which makes people the HRIS knows and
    /// the directory does not yet part of planning.
    pub fn declares_accounts(&self) -> bool {
        self.policies.iter().any(|p| !p.accounts.is_empty())
    }

    /// The snapshots with every declared resource (and every resource a push creates) that the last sync
    /// does not have added as pending (`pending:<name>`), so grants on it can be planned. Borrowed as they
    /// are when nothing is missing.
    pub fn with_declared<'s>(
        &self,
        snapshots: &'s BTreeMap<ConnectionName, Snapshot>,
    ) -> Cow<'s, BTreeMap<ConnectionName, Snapshot>> {
        let declared = self
            .resources
            .iter()
            .map(|r| &r.target)
            .chain(self.pushes.iter().filter_map(|p| p.creates.as_ref()));
        let missing: Vec<&ResourceSpecRef> = declared
            .filter(|r| {
                snapshots
                    .get(&r.connection)
                    .is_some_and(|s| s.resource_by_name(&r.kind, &r.name).is_none())
            })
            .collect();
        if missing.is_empty() {
            return Cow::Borrowed(snapshots);
        }
        let mut augmented = snapshots.clone();
        for r in missing {
            let Some(snapshot) = augmented.get_mut(&r.connection) else {
                continue;
            };
            if snapshot.resource_by_name(&r.kind, &r.name).is_some() {
                continue;
            }
            // A group's members are what policies grant; other kinds are reached through their settings.
            let entitlements = if r.kind == GROUP_KIND {
                vec!["member".to_string()]
            } else {
                vec![]
            };
            snapshot.resources.push(Resource {
                id: format!("{PENDING_PREFIX}{}", r.name),
                kind: ResourceKind::new(r.kind.clone()),
                name: r.name.clone(),
                entitlement_aliases: entitlements
                    .iter()
                    .map(|e| (e.clone(), e.clone()))
                    .collect(),
                entitlements,
                writable: true,
                attributes: Default::default(),
            });
        }
        Cow::Owned(augmented)
    }

    /// Checks that every grant names a connection that was synced and a
    /// resource (and entitlement) that the last sync of it knows or a policy
    /// file declares, and that declared resources and pushes name synced
    /// systems and resources that exist or are declared.
    pub fn check_references(
        &self,
        snapshots: &BTreeMap<ConnectionName, Snapshot>,
    ) -> Result<(), Diagnostics> {
        let snapshots = self.with_declared(snapshots);
        let snapshots = snapshots.as_ref();
        let mut problems = Vec::new();
        let unknown_system = |r: &ResourceSpecRef, file: &Path| -> Option<Diagnostic> {
            (!snapshots.contains_key(&r.connection)).then(|| {
                r.system_at
                    .diagnostic(file, unknown_system_message(&r.connection, snapshots))
            })
        };
        let missing = |r: &ResourceSpecRef, file: &Path| -> Option<Diagnostic> {
            if let Some(d) = unknown_system(r, file) {
                return Some(d);
            }
            let snapshot = snapshots.get(&r.connection)?;
            snapshot.resource_by_name(&r.kind, &r.name).is_none().then(|| {
                r.at.diagnostic(
                    file,
                    format!(
                        "{} {} \"{}\" does not exist in the last sync of \"{}\" and no policy file declares it",
                        r.connection, r.kind, r.name, r.connection
                    ),
                )
            })
        };
        for declared in &self.resources {
            problems.extend(unknown_system(&declared.target, &declared.file));
            for required in &declared.requires {
                problems.extend(missing(required, &declared.file));
            }
        }
        for push in &self.pushes {
            problems.extend(missing(&push.group, &push.file));
            if unknown_system(&push.group, &push.file).is_none() {
                problems.extend(missing(&push.app, &push.file));
            }
            if let Some(creates) = &push.creates {
                problems.extend(unknown_system(creates, &push.file));
            }
        }
        for policy in &self.policies {
            for grant in &policy.grants {
                if let Err(message) = resolve(grant, snapshots) {
                    problems.push(grant.at.diagnostic(&policy.file, message));
                }
            }
            let systems = policy
                .profile
                .iter()
                .map(|p| (&p.connection, &p.system_at))
                .chain(
                    policy
                        .accounts
                        .iter()
                        .map(|a| (&a.connection, &a.system_at)),
                );
            for (connection, at) in systems {
                if !snapshots.contains_key(connection) {
                    problems.push(
                        at.diagnostic(&policy.file, unknown_system_message(connection, snapshots)),
                    );
                }
            }
        }
        for bundle in &self.bundles {
            for grant in &bundle.grants {
                if let Err(message) = resolve(grant, snapshots) {
                    problems.push(grant.at.diagnostic(&bundle.file, message));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Everything that can be checked before planning, against the last
    /// syncs: each grant's connection, resource and entitlement, and each
    /// condition's attributes and types against the directory's (its
    /// published schema and what its last sync saw). Without a sync of the
    /// directory, conditions are checked against the built-in attributes only.
    pub fn check(
        &self,
        snapshots: &BTreeMap<ConnectionName, Snapshot>,
        directory: &ConnectionName,
    ) -> Result<(), Diagnostics> {
        let catalog = snapshots.get(directory).map(|snapshot| {
            let mut catalog = AttributeCatalog::for_directory(snapshot);
            if snapshots.values().any(grantflow_model::is_hris) {
                catalog.declare_hris();
            }
            catalog
        });
        let mut problems = match self.check_references(snapshots) {
            Ok(()) => vec![],
            Err(Diagnostics(problems)) => problems,
        };
        if let Err(Diagnostics(more)) = self.check_conditions(catalog.as_ref()) {
            problems.extend(more);
        }
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Checks every condition's attributes and types against `catalog`;
    /// `None` checks the built-in attributes' types and lets other names
    /// pass (nothing is known of the directory yet).
    pub fn check_conditions(&self, catalog: Option<&AttributeCatalog>) -> Result<(), Diagnostics> {
        let mut problems = Vec::new();
        for policy in &self.policies {
            let found = match catalog {
                Some(catalog) => policy.condition.check(catalog),
                None => policy
                    .condition
                    .check(&AttributeCatalog::built_in())
                    .into_iter()
                    .filter(|p| {
                        !p.message.starts_with("unknown attribute")
                            && !p.message.contains("is not set for every person")
                    })
                    .collect(),
            };
            for problem in found {
                problems.push(self.condition_diagnostic(policy, problem.offset, &problem.message));
            }
            let values = policy
                .profile
                .iter()
                .flat_map(|p| p.attributes.iter().map(|v| ("profile", v)))
                .chain(
                    policy
                        .accounts
                        .iter()
                        .flat_map(|a| a.attributes.iter().map(|v| ("account", v))),
                );
            for (what, value) in values {
                let found = match catalog {
                    Some(catalog) => value.expression.check_given(catalog, &policy.condition),
                    None => vec![],
                };
                for problem in found
                    .into_iter()
                    .filter(|p| !p.message.contains("must be a boolean"))
                {
                    let (line, column) = match (problem.offset, self.sources.get(&policy.file)) {
                        (Some(offset), Some(text)) if value.at.line > 0 => {
                            located::position_in_scalar(
                                text,
                                value.at.line,
                                value.at.column,
                                value.expression.source(),
                                offset,
                            )
                        }
                        _ => (value.at.line, value.at.column),
                    };
                    problems.push(Diagnostic {
                        file: policy.file.clone(),
                        line,
                        column,
                        message: format!(
                            "policy \"{}\": {what} attribute `{}`: {}",
                            policy.name, value.name, problem.message
                        ),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Advice that is not an error: conditions on `person.status`, the
    /// directory's raw status, which a lockout or an expired password
    /// changes although the person keeps their access.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        for policy in &self.policies {
            let source = policy.condition.source();
            if let Some(offset) = source.find("person.status") {
                let mut diagnostic = self.condition_diagnostic(
                    policy,
                    Some(offset),
                    "`person.status` is the directory's raw status: a locked-out or password-expired person has another one and would lose access; use `person.active` (or `person.state`)",
                );
                diagnostic.message = format!("(warning) {}", diagnostic.message);
                found.push(diagnostic);
            }
        }
        found
    }

    /// A problem inside `policy`'s condition, placed at its line and column
    /// in the file when the offset is known, else at the `when:` itself.
    fn condition_diagnostic(
        &self,
        policy: &Policy,
        offset: Option<usize>,
        message: &str,
    ) -> Diagnostic {
        let at = policy.condition_at.clone().unwrap_or(Located {
            value: (),
            line: 0,
            column: 0,
        });
        let (line, column) = match (offset, self.sources.get(&policy.file)) {
            (Some(offset), Some(text)) if at.line > 0 => located::position_in_scalar(
                text,
                at.line,
                at.column,
                policy.condition.source(),
                offset,
            ),
            _ => (at.line, at.column),
        };
        Diagnostic {
            file: policy.file.clone(),
            line,
            column,
            message: format!("policy \"{}\": {message}", policy.name),
        }
    }

    /// The policies whose condition holds for `person`, or the first
    /// evaluation error: it names the policy (and where its condition is
    /// written) and the person.
    pub fn matching<'a>(&'a self, person: &Person) -> Result<Vec<&'a Policy>, String> {
        let mut matched = Vec::new();
        let conditions: Vec<&Condition> = self.policies.iter().map(|p| &p.condition).collect();
        let outcomes = expr::evaluate_all(&conditions, person);
        for (policy, outcome) in self.policies.iter().zip(outcomes) {
            match outcome {
                Ok(true) => matched.push(policy),
                Ok(false) => {}
                Err(message) => {
                    let at = self.condition_diagnostic(policy, None, "");
                    return Err(format!(
                        "{}: error: policy \"{}\": the condition cannot be decided for {}: {message}; nothing was planned",
                        at.position(),
                        policy.name,
                        person.email
                    ));
                }
            }
        }
        Ok(matched)
    }
}

/// Finds the resource and entitlement a grant refers to in the snapshots.
pub fn resolve<'s>(
    grant: &GrantSpec,
    snapshots: &'s BTreeMap<ConnectionName, Snapshot>,
) -> Result<(&'s Resource, String), String> {
    let Some(snapshot) = snapshots.get(&grant.connection) else {
        return Err(unknown_system_message(&grant.connection, snapshots));
    };
    let Some(resource) = snapshot.resource_by_name(&grant.resource_kind, &grant.resource_name)
    else {
        return Err(format!(
            "{} {} \"{}\" does not exist in the last sync of \"{}\"",
            grant.connection, grant.resource_kind, grant.resource_name, grant.connection
        ));
    };
    let entitlement = match &grant.entitlement {
        Some(wanted) => {
            if resource.entitlements.iter().any(|e| e == wanted) {
                wanted.clone()
            } else if let Some(native) = resource.entitlement_aliases.get(wanted) {
                native.clone()
            } else {
                let mut offered = resource.entitlements.clone();
                offered.extend(resource.entitlement_aliases.keys().cloned());
                return Err(format!(
                    "{} \"{}\" has no entitlement \"{wanted}\" (it has: {})",
                    grant.resource_kind,
                    grant.resource_name,
                    offered.join(", ")
                ));
            }
        }
        None => match resource.entitlements.first() {
            Some(default) => default.clone(),
            None => {
                return Err(format!(
                    "{} \"{}\" offers no entitlements",
                    grant.resource_kind, grant.resource_name
                ));
            }
        },
    };
    if !resource.writable {
        return Err(format!(
            "{} \"{}\" is managed by {} itself and cannot be granted by grantflow",
            grant.resource_kind, grant.resource_name, grant.connection
        ));
    }
    Ok((resource, entitlement))
}

fn unknown_system_message(
    connection: &ConnectionName,
    snapshots: &BTreeMap<ConnectionName, Snapshot>,
) -> String {
    let known: Vec<&str> = snapshots.keys().map(ConnectionName::as_str).collect();
    format!(
        "unknown system \"{connection}\": no connection of that name has been synced (synced: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

fn policy_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|error| format!("cannot read policy directory: {error}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err("no policy files (*.yaml) found".to_string());
    }
    Ok(files)
}

/// The JSON Schema of policy files, generated from the types above.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PolicyFile)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
