//! Backstage catalog entities (`catalog-info.yaml`): Components with their owner, system, lifecycle
//! and the `backstage.io/kubernetes-id` annotation that names their workloads.

use super::{documents, str_at};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    /// The owner's entity reference without its kind: `group:default/payments-platform` → `payments-platform`.
    pub owner: Option<String>,
    pub system: Option<String>,
    pub lifecycle: Option<String>,
    /// The value workloads carry in their `backstage.io/kubernetes-id` label; defaults to the name.
    pub kubernetes_id: String,
    /// Repositories holding its code, keyed like repository nodes: `github:<owner>/<repo>` from
    /// `github.com/project-slug`, `gitlab:<path>` from `gitlab.com/project-slug`.
    pub repositories: Vec<String>,
}

/// The Backstage annotations naming a component's repository, and the system each belongs to.
const REPOSITORY_ANNOTATIONS: [(&str, &str); 2] = [
    ("github.com/project-slug", "github"),
    ("gitlab.com/project-slug", "gitlab"),
];

/// The short name of an entity reference `[kind:][namespace/]name`.
fn short_ref(reference: &str) -> String {
    let without_kind = reference
        .split_once(':')
        .map_or(reference, |(_, rest)| rest);
    without_kind
        .rsplit_once('/')
        .map_or(without_kind, |(_, name)| name)
        .to_string()
}

/// The Components of one catalog file; other kinds (Group, System, API, Location) are skipped.
pub fn parse(text: &str) -> Result<Vec<Component>, String> {
    let mut components = Vec::new();
    for entity in documents(text)? {
        if str_at(&entity, &["kind"]) != Some("Component") {
            continue;
        }
        let Some(name) = str_at(&entity, &["metadata", "name"]) else {
            return Err("a Component without metadata.name".to_string());
        };
        let kubernetes_id = entity
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("backstage.io/kubernetes-id"))
            .and_then(|v| v.as_str())
            .unwrap_or(name)
            .to_string();
        let repositories = REPOSITORY_ANNOTATIONS
            .iter()
            .filter_map(|(annotation, system)| {
                let slug = entity
                    .pointer("/metadata/annotations")?
                    .get(*annotation)?
                    .as_str()?;
                Some(format!(
                    "{system}:{}",
                    slug.trim_matches('/').to_lowercase()
                ))
            })
            .collect();
        components.push(Component {
            name: name.to_string(),
            owner: str_at(&entity, &["spec", "owner"]).map(short_ref),
            system: str_at(&entity, &["spec", "system"]).map(short_ref),
            lifecycle: str_at(&entity, &["spec", "lifecycle"]).map(str::to_string),
            kubernetes_id,
            repositories,
        });
    }
    Ok(components)
}

#[cfg(test)]
mod tests {
    #[test]
    fn owner_references_lose_their_kind_and_namespace() {
        assert_eq!(
            super::short_ref("group:default/payments-platform"),
            "payments-platform"
        );
        assert_eq!(super::short_ref("platform"), "platform");
        assert_eq!(super::short_ref("group:platform"), "platform");
    }
}
