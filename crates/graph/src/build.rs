//! Assembling the graph from the Okta snapshot and the parsed sources, following the configured
//! links from Okta apps into AWS IAM Identity Center, EKS OIDC and Datadog, and classifying every
//! node as production or not.

use std::collections::{BTreeMap, HashMap};

use grantflow_model::{GrantSource, Snapshot};

use crate::config::{AppLink, EnvironmentRules, ReachConfig};
use crate::graph::{Deploy, EdgeKind, Environment, Graph, GraphBuilder, NodeId, NodeKind};
use crate::sources::Inputs;
use crate::sources::aws::{AwsExport, permission_set_of_role, role_key};
use crate::sources::kubernetes::{ClusterData, MappingSource};

/// The key of one holder's use of one app: `group:<name>|<app>` or `user:<login>|<app>`.
pub fn app_access_key(holder_is_group: bool, holder: &str, app: &str) -> String {
    let kind = if holder_is_group { "group" } else { "user" };
    format!("{kind}:{holder}|{app}")
}

pub fn user_key(login: &str) -> String {
    login.to_lowercase()
}

/// Builds the graph. Pure: everything it needs has been read already.
pub fn build(config: &ReachConfig, okta: &Snapshot, inputs: &Inputs) -> Graph {
    let rules = &config.environments;
    let mut b = GraphBuilder::new();
    let services = add_services(&mut b, rules, inputs);
    let accounts = account_environments(inputs.aws.as_ref(), rules);
    add_accounts(&mut b, &accounts);
    // Identity Center first, so a role's label shows the ARN Identity Center created (or, from a
    // sync, which knows no ARN, the one a cluster maps).
    let principals = inputs
        .aws
        .as_ref()
        .map(|aws| add_identity_center(&mut b, &accounts, aws, &inputs.clusters))
        .unwrap_or_default();
    for cluster in &inputs.clusters {
        add_cluster(&mut b, rules, &accounts, &services, cluster);
    }
    add_okta(&mut b, config, okta, &principals, inputs);
    for code in &inputs.code {
        add_code(&mut b, code);
    }
    b.build()
}

/// Components, their monitors and deploys; returns the kubernetes-id → service node map.
fn add_services(
    b: &mut GraphBuilder,
    rules: &EnvironmentRules,
    inputs: &Inputs,
) -> HashMap<String, NodeId> {
    let mut by_kubernetes_id = HashMap::new();
    for component in &inputs.components {
        let id = b.node(NodeKind::Service, &component.name, None);
        let info = b.service_info(id);
        info.owner = component.owner.clone();
        info.system = component.system.clone();
        info.lifecycle = component.lifecycle.clone();
        if let Some(lifecycle) = &component.lifecycle
            && !rules
                .production_lifecycles
                .iter()
                .any(|l| l.eq_ignore_ascii_case(lifecycle))
        {
            b.set_environment(
                id,
                Environment::NonProduction {
                    reason: format!("catalog lifecycle {lifecycle}"),
                },
            );
        }
        for repository in &component.repositories {
            let repo = repository_node(b, repository);
            b.edge(repo, id, EdgeKind::SourceOf);
        }
        by_kubernetes_id.insert(component.kubernetes_id.clone(), id);
    }
    for m in &inputs.monitors {
        let id = b.node(NodeKind::Service, &m.service, None);
        b.service_info(id).monitors.push(m.monitor.clone());
    }
    for event in &inputs.deploys {
        if event
            .environment
            .as_deref()
            .is_some_and(|e| !rules.is_production_value(e))
        {
            continue;
        }
        let id = b.node(NodeKind::Service, &event.service, None);
        b.service_info(id).deploys.push(Deploy {
            version: event.version.clone(),
            at: event.deployed_at,
            by: event.deployed_by.clone(),
            environment: event.environment.clone(),
        });
    }
    let ids: Vec<NodeId> = b
        .nodes_of(NodeKind::Service)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for id in ids {
        b.service_info(id)
            .deploys
            .sort_by_key(|d| std::cmp::Reverse(d.at));
    }
    by_kubernetes_id
}

/// Account id → (display name, environment) from the export's tags.
fn account_environments(
    aws: Option<&AwsExport>,
    rules: &EnvironmentRules,
) -> BTreeMap<String, (String, Environment)> {
    let mut out = BTreeMap::new();
    for account in aws.map(|a| a.accounts.as_slice()).unwrap_or_default() {
        let name = account.name.clone().unwrap_or_else(|| account.id.clone());
        let env = match account.tag(&rules.account_tag) {
            Some(value) if !rules.is_production_value(value) => Environment::NonProduction {
                reason: format!(
                    "AWS account {} ({name}) is tagged {}={value}",
                    account.id, rules.account_tag
                ),
            },
            _ => Environment::Production,
        };
        out.insert(account.id.clone(), (name, env));
    }
    out
}

fn role_node(
    b: &mut GraphBuilder,
    accounts: &BTreeMap<String, (String, Environment)>,
    account: &str,
    role_name: &str,
    arn: Option<&str>,
) -> NodeId {
    let account_name = accounts
        .get(account)
        .map(|(n, _)| n.as_str())
        .unwrap_or(account);
    let what = match permission_set_of_role(role_name) {
        Some(ps) => format!("AWS Identity Center role {ps}"),
        None => format!("IAM role {role_name}"),
    };
    let label = match arn {
        Some(arn) => format!("{what} in account {account} ({account_name}) [{arn}]"),
        None => format!("{what} in account {account} ({account_name})"),
    };
    let id = b.node(
        NodeKind::AwsRole,
        &role_key(account, role_name),
        Some(label),
    );
    if let Some((_, env)) = accounts.get(account) {
        b.set_environment(id, env.clone());
    }
    if let Some(target) = b.find(NodeKind::Service, &account_service_key(account)) {
        b.edge(id, target, EdgeKind::InAccount);
    }
    id
}

/// The service node of an AWS account: signing in to a production account is production reach.
pub fn account_service_key(account: &str) -> String {
    format!("aws-account:{account}")
}

fn add_accounts(b: &mut GraphBuilder, accounts: &BTreeMap<String, (String, Environment)>) {
    for (id, (name, env)) in accounts {
        let node = b.node(
            NodeKind::Service,
            &account_service_key(id),
            Some(format!("AWS account {id} ({name})")),
        );
        b.set_environment(node, env.clone());
        b.service_info(node).system = Some("aws".to_string());
    }
}

fn repository_node(b: &mut GraphBuilder, key: &str) -> NodeId {
    let label = match key.split_once(':') {
        Some(("github", path)) => format!("GitHub repository {path}"),
        Some(("gitlab", path)) => format!("GitLab project {path}"),
        _ => format!("repository {key}"),
    };
    b.node(NodeKind::Repository, key, Some(label))
}

/// The key of a downstream system's group or team: `<system>:<name>`.
pub fn team_key(system: &str, name: &str) -> String {
    format!("{system}:{name}")
}

fn team_node(b: &mut GraphBuilder, system: &str, name: &str) -> NodeId {
    let what = match system {
        "github" => "GitHub team",
        "gitlab" => "GitLab group",
        "aws" => "Identity Center group",
        _ => "group",
    };
    b.node(
        NodeKind::Team,
        &team_key(system, name),
        Some(format!("{what} \"{name}\"")),
    )
}

/// A person's user node, also findable by their account in a connection.
fn person_node(b: &mut GraphBuilder, person: &str, alias: Option<&str>) -> NodeId {
    let id = b.node(NodeKind::User, person, None);
    if let Some(alias) = alias {
        b.alias(NodeKind::User, alias, id);
    }
    id
}

/// GitHub teams and GitLab groups to their repositories, and their members to them.
fn add_code(b: &mut GraphBuilder, code: &crate::sources::live::CodeAccess) {
    use crate::sources::live::account_alias;
    for (person, account) in &code.accounts {
        person_node(b, person, Some(&account_alias(&code.connection, account)));
    }
    for team in &code.teams {
        let node = team_node(b, &code.system, &team.name);
        for member in &team.members {
            let user = person_node(b, member, None);
            b.edge(user, node, EdgeKind::MemberOf);
        }
        for repository in &team.repositories {
            let repo = repository_node(b, repository);
            b.edge(node, repo, EdgeKind::Grants);
        }
    }
    for (person, account, repository) in &code.direct {
        let user = person_node(b, person, Some(&account_alias(&code.connection, account)));
        let repo = repository_node(b, repository);
        b.edge(user, repo, EdgeKind::Grants);
    }
}

/// Identity Center principals (`GROUP:<display name>`, `USER:<user name>`) → the roles their
/// account assignments materialise.
fn add_identity_center(
    b: &mut GraphBuilder,
    accounts: &BTreeMap<String, (String, Environment)>,
    aws: &AwsExport,
    clusters: &[ClusterData],
) -> HashMap<String, Vec<NodeId>> {
    let ps_names: HashMap<&str, &str> = aws
        .permission_sets
        .iter()
        .map(|p| (p.permission_set_arn.as_str(), p.name.as_str()))
        .collect();
    let mut principal_names: HashMap<&str, String> = HashMap::new();
    for g in &aws.groups {
        principal_names.insert(&g.group_id, format!("GROUP:{}", g.display_name));
    }
    for u in &aws.users {
        principal_names.insert(&u.user_id, format!("USER:{}", user_key(&u.user_name)));
    }
    // The concrete role ARN per (account, permission set), when the export lists the roles.
    let mut arns: HashMap<String, &str> = HashMap::new();
    // A synced instance lists no roles (they live in each member account's IAM): a cluster's access
    // entry names the same role with its full ARN.
    let mapped = clusters
        .iter()
        .flat_map(|c| &c.role_mappings)
        .filter(|m| m.source == MappingSource::AccessEntry)
        .map(|m| m.arn.as_str());
    for arn in aws.roles.iter().map(|r| r.arn.as_str()).chain(mapped) {
        if let Some((account, name)) = crate::sources::aws::normalise_role_arn(arn) {
            arns.entry(role_key(&account, &name)).or_insert(arn);
        }
    }
    let role_of = |b: &mut GraphBuilder, account: &str, ps: &str| {
        // The suffix is unknown until the role exists, and the key drops it anyway.
        let role_name = format!("AWSReservedSSO_{ps}_unknown");
        let arn = arns.get(&role_key(account, &role_name)).copied();
        role_node(b, accounts, account, &role_name, arn)
    };
    let mut out: HashMap<String, Vec<NodeId>> = HashMap::new();
    for a in &aws.account_assignments {
        let (Some(ps), Some(principal)) = (
            ps_names.get(a.permission_set_arn.as_str()),
            principal_names.get(a.principal_id.as_str()),
        ) else {
            continue;
        };
        let role = role_of(b, &a.account_id, ps);
        out.entry(principal.clone()).or_default().push(role);
    }
    for (account, ps) in &aws.offered {
        role_of(b, account, ps);
    }
    add_identity_center_principals(b, aws, &out);
    out
}

/// Identity Center's own groups and users (from a sync), so a change made in AWS itself is
/// reviewed like one made through Okta: a user holds their assignments and their groups', a group
/// its assignments.
fn add_identity_center_principals(
    b: &mut GraphBuilder,
    aws: &AwsExport,
    roles: &HashMap<String, Vec<NodeId>>,
) {
    let Some(connection) = &aws.connection else {
        return;
    };
    let people: HashMap<&str, &str> = aws
        .people
        .iter()
        .map(|(id, person)| (id.as_str(), person.as_str()))
        .collect();
    let mut users: HashMap<&str, NodeId> = HashMap::new();
    for u in &aws.users {
        let person = people
            .get(u.user_id.as_str())
            .map_or_else(|| user_key(&u.user_name), |p| p.to_string());
        let alias = crate::sources::live::account_alias(connection, &u.user_id);
        let node = person_node(b, &person, Some(&alias));
        users.insert(&u.user_id, node);
        for &role in roles
            .get(&format!("USER:{}", user_key(&u.user_name)))
            .into_iter()
            .flatten()
        {
            b.edge(node, role, EdgeKind::IdentityCenterAssignment);
        }
    }
    let mut groups: HashMap<&str, NodeId> = HashMap::new();
    for g in &aws.groups {
        let node = team_node(b, "aws", &g.display_name);
        groups.insert(&g.group_id, node);
        for &role in roles
            .get(&format!("GROUP:{}", g.display_name))
            .into_iter()
            .flatten()
        {
            b.edge(node, role, EdgeKind::IdentityCenterAssignment);
        }
    }
    for (group, user) in &aws.memberships {
        if let (Some(&g), Some(&u)) = (groups.get(group.as_str()), users.get(user.as_str())) {
            b.edge(u, g, EdgeKind::MemberOf);
        }
    }
}

fn add_cluster(
    b: &mut GraphBuilder,
    rules: &EnvironmentRules,
    accounts: &BTreeMap<String, (String, Environment)>,
    services: &HashMap<String, NodeId>,
    data: &ClusterData,
) {
    let c = &data.cluster;
    let cluster_env = match (&data.environment, &data.account) {
        (Some(value), _) if !rules.is_production_value(value) => Environment::NonProduction {
            reason: format!("cluster {c} is configured as {value}"),
        },
        (Some(_), _) => Environment::Production,
        (None, Some(account)) => accounts
            .get(account)
            .map(|(_, env)| env.clone())
            .unwrap_or(Environment::Production),
        (None, None) => Environment::Production,
    };
    let namespace_env = |ns: &str| -> Environment {
        let label = data
            .namespaces
            .get(ns)
            .and_then(|l| l.get(&rules.namespace_label));
        match label {
            Some(value) if !rules.is_production_value(value) => Environment::NonProduction {
                reason: format!(
                    "namespace {ns} ({c}) is labelled {}={value}",
                    rules.namespace_label
                ),
            },
            Some(_) => cluster_env.clone(),
            None if rules.namespace_is_listed_non_production(ns) => Environment::NonProduction {
                reason: format!("namespace {ns} ({c}) is listed as non-production"),
            },
            None => cluster_env.clone(),
        }
    };
    // Workloads per namespace, for bindings to fan out to.
    let mut workloads: BTreeMap<&str, Vec<NodeId>> = BTreeMap::new();
    for w in &data.workloads {
        let key = format!("{c}/{}/{}/{}", w.namespace, w.kind, w.name);
        let label = format!("Kubernetes {} {}/{} ({c})", w.kind, w.namespace, w.name);
        let id = b.node(NodeKind::Workload, &key, Some(label));
        b.set_environment(id, namespace_env(&w.namespace));
        let service_id = w
            .labels
            .get("backstage.io/kubernetes-id")
            .or_else(|| w.labels.get("app.kubernetes.io/name"))
            .cloned()
            .unwrap_or_else(|| w.name.clone());
        let service = match services.get(&service_id) {
            Some(&s) => s,
            None => b.node(NodeKind::Service, &service_id, None),
        };
        b.edge(id, service, EdgeKind::Runs);
        workloads.entry(w.namespace.as_str()).or_default().push(id);
    }
    let all: Vec<NodeId> = workloads.values().flatten().copied().collect();
    let group_node = |b: &mut GraphBuilder, group: &str| {
        let id = b.node(
            NodeKind::KubernetesGroup,
            &format!("{c}/{group}"),
            Some(format!("Kubernetes group {group} ({c})")),
        );
        b.set_environment(id, cluster_env.clone());
        id
    };
    for binding in &data.bindings {
        let scope = binding.namespace.as_deref().unwrap_or("_cluster");
        let key = format!("{c}/{scope}/{}/{}", binding.kind, binding.name);
        let label = match &binding.namespace {
            Some(ns) => format!("RoleBinding {ns}/{} → {} ({c})", binding.name, binding.role),
            None => format!(
                "ClusterRoleBinding {} → {} ({c})",
                binding.name, binding.role
            ),
        };
        let id = b.node(NodeKind::Binding, &key, Some(label));
        let targets = match &binding.namespace {
            Some(ns) => {
                b.set_environment(id, namespace_env(ns));
                workloads.get(ns.as_str()).cloned().unwrap_or_default()
            }
            None => {
                b.set_environment(id, cluster_env.clone());
                all.clone()
            }
        };
        for group in &binding.groups {
            let g = group_node(b, group);
            b.edge(g, id, EdgeKind::Subject);
        }
        for w in targets {
            b.edge(id, w, EdgeKind::Grants);
        }
    }
    for m in &data.role_mappings {
        let arn = (m.source == MappingSource::AwsAuth).then_some(m.arn.as_str());
        let role = role_node(b, accounts, &m.account, &m.role_name, arn);
        let kind = match m.source {
            MappingSource::AwsAuth => EdgeKind::AwsAuth,
            MappingSource::AccessEntry => EdgeKind::AccessEntry,
        };
        for group in &m.groups {
            let g = group_node(b, group);
            b.edge(role, g, kind);
            // system:masters is bound to cluster-admin by the API server itself, never by a binding.
            if group == "system:masters" {
                let admin = b.node(
                    NodeKind::Binding,
                    &format!("{c}/_cluster/system:masters"),
                    Some(format!("cluster-admin via system:masters ({c})")),
                );
                b.set_environment(admin, cluster_env.clone());
                b.edge(g, admin, EdgeKind::Subject);
                for &w in &all {
                    b.edge(admin, w, EdgeKind::Grants);
                }
            }
        }
        for policy in &m.access_policies {
            let scope = policy
                .namespaces
                .as_ref()
                .map(|n| n.join(","))
                .unwrap_or_else(|| "cluster".to_string());
            let id = b.node(
                NodeKind::Binding,
                &format!(
                    "{c}/access-policy/{}/{}/{scope}",
                    role_key(&m.account, &m.role_name),
                    policy.policy
                ),
                Some(format!(
                    "EKS access policy {} on {scope} ({c})",
                    policy.policy
                )),
            );
            b.edge(role, id, EdgeKind::AccessPolicy);
            let targets: Vec<NodeId> = match &policy.namespaces {
                Some(namespaces) => {
                    if let Some(ns) = namespaces.first() {
                        b.set_environment(id, namespace_env(ns));
                    }
                    namespaces
                        .iter()
                        .flat_map(|ns| workloads.get(ns.as_str()).cloned().unwrap_or_default())
                        .collect()
                }
                None => {
                    b.set_environment(id, cluster_env.clone());
                    all.clone()
                }
            };
            for w in targets {
                b.edge(id, w, EdgeKind::Grants);
            }
        }
    }
}

fn add_okta(
    b: &mut GraphBuilder,
    config: &ReachConfig,
    okta: &Snapshot,
    principals: &HashMap<String, Vec<NodeId>>,
    inputs: &Inputs,
) {
    let links: BTreeMap<&str, &AppLink> = config
        .okta_apps
        .iter()
        .map(|l| (l.app.as_str(), l))
        .collect();
    let mut logins: HashMap<&str, String> = HashMap::new();
    for account in &okta.accounts {
        let key = user_key(&account.login);
        b.node(NodeKind::User, &key, Some(account.login.clone()));
        logins.insert(&account.id, key);
    }
    let mut groups: HashMap<&str, &str> = HashMap::new();
    let mut apps: HashMap<&str, &str> = HashMap::new();
    for r in &okta.resources {
        match r.kind.as_str() {
            "group" => {
                b.node(
                    NodeKind::Group,
                    &r.name,
                    Some(format!("group \"{}\"", r.name)),
                );
                groups.insert(&r.id, &r.name);
            }
            "app" => {
                apps.insert(&r.id, &r.name);
            }
            _ => {}
        }
    }
    // Every group gets a (possibly unassigned) access node per linked app, so a plan that would
    // assign the app can be reviewed before it exists.
    for &group in groups.values() {
        for link in links.values() {
            app_access(b, link, true, group, principals, inputs);
        }
    }
    for grant in &okta.grants {
        let Some(user) = logins.get(grant.account_id.as_str()) else {
            continue;
        };
        let user_id = b.node(NodeKind::User, user, None);
        if let Some(&group) = groups.get(grant.resource_id.as_str()) {
            let g = b.node(NodeKind::Group, group, None);
            b.edge(user_id, g, EdgeKind::MemberOf);
        } else if let Some(&app) = apps.get(grant.resource_id.as_str())
            && grant.source == GrantSource::Direct
            && let Some(link) = links.get(app)
        {
            let access = app_access(b, link, false, user, principals, inputs);
            b.edge(user_id, access, EdgeKind::AssignedApp);
        }
    }
    for rg in &okta.resource_grants {
        let (Some(&group), Some(&app)) = (
            groups.get(rg.holder_id.as_str()),
            apps.get(rg.resource_id.as_str()),
        ) else {
            continue;
        };
        if links.contains_key(app) {
            let g = b.node(NodeKind::Group, group, None);
            let access = b.node(NodeKind::AppAccess, &app_access_key(true, group, app), None);
            b.edge(g, access, EdgeKind::AssignedApp);
        }
    }
}

/// The access node of `holder` on a linked app, with the edges the link gives.
fn app_access(
    b: &mut GraphBuilder,
    link: &AppLink,
    holder_is_group: bool,
    holder: &str,
    principals: &HashMap<String, Vec<NodeId>>,
    inputs: &Inputs,
) -> NodeId {
    let id = b.node(
        NodeKind::AppAccess,
        &app_access_key(holder_is_group, holder, &link.app),
        Some(format!("app \"{}\"", link.app)),
    );
    if link.identity_center.is_some() {
        let principal = if holder_is_group {
            format!("GROUP:{holder}")
        } else {
            format!("USER:{holder}")
        };
        for &role in principals.get(&principal).into_iter().flatten() {
            b.edge(id, role, EdgeKind::IdentityCenterAssignment);
        }
    }
    if let Some(oidc) = &link.kubernetes_oidc
        && holder_is_group
        && let Some(g) = b.find(
            NodeKind::KubernetesGroup,
            &format!("{}/{}{holder}", oidc.cluster, oidc.groups_prefix),
        )
    {
        b.edge(id, g, EdgeKind::OidcGroup);
    }
    if let Some(dash) = &link.datadog_dashboards {
        let tags = dash.monitor_tags.join(",");
        let key = format!("{}|{tags}", link.app);
        let first = b.find(NodeKind::DashboardScope, &key).is_none();
        let scope = b.node(
            NodeKind::DashboardScope,
            &key,
            Some(format!("Datadog dashboards and monitors tagged {tags}")),
        );
        b.edge(id, scope, EdgeKind::Dashboard);
        // The scope is shared by every holder of the app: its services are linked once.
        for m in inputs.monitors.iter().filter(|_| first) {
            if dash.monitor_tags.iter().all(|t| m.monitor.tags.contains(t)) {
                let service = b.node(NodeKind::Service, &m.service, None);
                b.edge(scope, service, EdgeKind::Dashboard);
            }
        }
    }
    id
}
