//! `GET /api/v4/groups/:id/projects`: a group's projects as GitLab lists them, with its defaults: projects shared
//! with the group included (`with_shared=true`), subgroups' projects left out (`include_subgroups=false`), archived
//! projects listed unless `archived` says otherwise, newest first (`order_by=created_at`, `sort=desc`).

use std::cmp::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::errors::{GitlabError, GitlabResult};
use super::pagination::paged;
use super::state::{Gitlab, Inner, Project};
use crate::emulator::Ctx;

/// Grape's `Boolean` coercion: anything else is the parameter's "is invalid" error.
fn boolean(ctx: &Ctx, name: &str) -> GitlabResult<Option<bool>> {
    match ctx.param(name).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "1" | "t" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "f" | "no") => Ok(Some(false)),
        Some(_) => Err(GitlabError::param(format!("{name} is invalid"))),
    }
}

/// Grape's `values:` check: a value outside the list is "does not have a valid value".
fn one_of<'a>(
    ctx: &'a Ctx,
    name: &str,
    values: &[&str],
    default: &'a str,
) -> GitlabResult<&'a str> {
    match ctx.param(name) {
        None => Ok(default),
        Some(v) if values.contains(&v) => Ok(v),
        Some(_) => Err(GitlabError::param(format!(
            "{name} does not have a valid value"
        ))),
    }
}

fn compare(inner: &Inner, order_by: &str, a: &Project, b: &Project) -> Ordering {
    let by = match order_by {
        "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        "path" => inner
            .full_path(a.namespace_id)
            .cmp(&inner.full_path(b.namespace_id))
            .then_with(|| a.path.cmp(&b.path)),
        "id" => Ordering::Equal,
        // Nothing changes a project after it is created here: updated and last activity are its creation.
        _ => a.created_at.cmp(&b.created_at),
    };
    by.then(a.id.cmp(&b.id))
}

pub async fn list(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let archived = boolean(&ctx, "archived")?;
    let with_shared = boolean(&ctx, "with_shared")?.unwrap_or(true);
    let include_subgroups = boolean(&ctx, "include_subgroups")?.unwrap_or(false);
    let order_by = one_of(
        &ctx,
        "order_by",
        &[
            "id",
            "name",
            "path",
            "created_at",
            "updated_at",
            "last_activity_at",
            "similarity",
            "star_count",
        ],
        "created_at",
    )?;
    let sort = one_of(&ctx, "sort", &["asc", "desc"], "desc")?;
    let visibility = match ctx.param("visibility") {
        None => None,
        Some(v) => Some(one_of(
            &ctx,
            "visibility",
            &["private", "internal", "public"],
            v,
        )?),
    };
    let search = ctx.param("search").map(str::to_lowercase);

    let inner = g.core.state();
    let gid = inner
        .find_group(&id)
        .ok_or_else(|| GitlabError::not_found("Group"))?;
    let mut namespaces = vec![gid];
    if include_subgroups {
        namespaces.extend(inner.descendants(gid));
    }
    let mut projects: Vec<&Project> = inner
        .projects
        .values()
        .filter(|p| {
            namespaces.contains(&p.namespace_id)
                || (with_shared && p.shared_with.contains_key(&gid))
        })
        .filter(|p| archived.is_none_or(|a| p.archived == a))
        .filter(|p| visibility.is_none_or(|v| p.visibility == v))
        .filter(|p| {
            search.as_deref().is_none_or(|s| {
                p.name.to_lowercase().contains(s) || p.path.to_lowercase().contains(s)
            })
        })
        .collect();
    projects.sort_by(|a, b| {
        let o = compare(&inner, order_by, a, b);
        if sort == "asc" { o } else { o.reverse() }
    });
    let items = projects
        .into_iter()
        .map(|p| inner.project_json(p, &ctx))
        .collect();
    paged(&ctx, items)
}
