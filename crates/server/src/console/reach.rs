//! The reach explorer: what a group or person reaches in production, or
//! who reaches a service, with the paths drawn as a picture. The picture is
//! SVG drawn here from the report's paths (left to right, one column per
//! hop), so the page needs no script; the Mermaid and DOT texts the CLI
//! prints are offered beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use grantflow_graph::review::Hop;
use grantflow_service::access::Permission;
use grantflow_service::views::{ReachAnswer, ReachQuery};
use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct ReachParams {
    /// `group`, `user` or `service`.
    kind: Option<String>,
    name: Option<String>,
}

pub(crate) struct Line {
    pub what: String,
    pub path: String,
}

#[derive(Template)]
#[template(path = "reach.html")]
struct ReachPage {
    layout: Layout,
    kind: String,
    name: String,
    question: String,
    lines: Vec<Line>,
    svg: String,
    mermaid: String,
    dot: String,
}

/// `GET /console/reach?kind=group|user|service&name=`.
pub(crate) async fn explore(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Query(params): Query<ReachParams>,
) -> PageResult {
    visitor.authorize(&Permission::ReadReach)?;
    let kind = params.kind.unwrap_or_else(|| "group".into());
    let name = params.name.unwrap_or_default().trim().to_string();
    let mut page = ReachPage {
        layout: Layout::new(&visitor, "Reach explorer", "/console/reach"),
        kind: kind.clone(),
        name: name.clone(),
        question: String::new(),
        lines: Vec::new(),
        svg: String::new(),
        mermaid: String::new(),
        dot: String::new(),
    };
    if name.is_empty() {
        return render(&page);
    }
    let query = match kind.as_str() {
        "group" => ReachQuery::Group(name.clone()),
        "user" => ReachQuery::User(name.clone()),
        "service" => ReachQuery::Service(name.clone()),
        other => {
            return Err(PageError::invalid(format!(
                "ask about a group, a user or a service, not \"{other}\""
            )));
        }
    };
    let Some(answer) = shared.service.reach(&query).await? else {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "reachability_not_configured",
            "the configuration has no `reachability:` section",
        ));
    };
    let mut paths: Vec<Vec<Hop>> = Vec::new();
    match answer {
        ReachAnswer::Report(report) => {
            page.question = format!("What {kind} {name} reaches in production");
            for service in &report.services {
                for path in &service.paths {
                    page.lines.push(Line {
                        what: service.service.clone(),
                        path: grantflow_graph::render::path_line(&path.hops),
                    });
                    paths.push(path.hops.clone());
                }
            }
            page.mermaid = grantflow_graph::render::mermaid(&report);
            page.dot = grantflow_graph::render::dot(&report);
        }
        ReachAnswer::Holders(holders) => {
            page.question = format!("Who reaches service {name}");
            for holder in &holders {
                page.lines.push(Line {
                    what: holder.holder.clone(),
                    path: grantflow_graph::render::path_line(&holder.path),
                });
                paths.push(holder.path.clone());
            }
        }
    }
    page.svg = picture(&paths);
    render(&page)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const BOX_W: usize = 220;
const BOX_H: usize = 36;
const GAP_X: usize = 60;
const GAP_Y: usize = 16;

/// The paths as one picture: each hop a box in the column of its position
/// on the path (a node met at several positions sits at its first), each
/// step an arrow labelled with what it goes through.
fn picture(paths: &[Vec<Hop>]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    // Node → (column, row), in the order met.
    let mut place: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut rows: Vec<usize> = Vec::new();
    let mut edges: Vec<(String, String, String)> = Vec::new();
    for path in paths {
        let mut previous: Option<String> = None;
        for (column, hop) in path.iter().enumerate() {
            let label = hop.label.clone();
            if !place.contains_key(&label) {
                if rows.len() <= column {
                    rows.resize(column + 1, 0);
                }
                place.insert(label.clone(), (column, rows[column]));
                rows[column] += 1;
            }
            if let Some(from) = previous {
                let via = hop.via.as_deref().unwrap_or_default().to_string();
                let edge = (from, label.clone(), via);
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
            previous = Some(label);
        }
    }
    let columns = rows.len();
    let most = rows.iter().copied().max().unwrap_or(1);
    let width = columns * (BOX_W + GAP_X);
    let height = most * (BOX_H + GAP_Y) + GAP_Y;
    let at = |column: usize, row: usize| {
        (
            column * (BOX_W + GAP_X) + GAP_X / 2,
            row * (BOX_H + GAP_Y) + GAP_Y,
        )
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"reach-picture-title\">\
         <title id=\"reach-picture-title\">The paths, left to right</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#595959\"/></marker></defs>"
    );
    for (from, to, via) in &edges {
        let (Some(&(c1, r1)), Some(&(c2, r2))) = (place.get(from), place.get(to)) else {
            continue;
        };
        let (x1, y1) = at(c1, r1);
        let (x2, y2) = at(c2, r2);
        let (x1, y1) = (x1 + BOX_W, y1 + BOX_H / 2);
        let y2 = y2 + BOX_H / 2;
        let _ = write!(
            svg,
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#595959\" marker-end=\"url(#arrow)\"/>"
        );
        if !via.is_empty() {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#595959\">{}</text>",
                (x1 + x2) / 2,
                (y1 + y2) / 2 - 4,
                escape(via)
            );
        }
    }
    for (label, &(column, row)) in &place {
        let (x, y) = at(column, row);
        let shown: String = if label.chars().count() > 32 {
            label.chars().take(31).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            svg,
            "<g><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"4\" fill=\"#f4f5f7\" stroke=\"#1a1a1a\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1a1a1a\">{}</text></g>",
            escape(label),
            x + BOX_W / 2,
            y + BOX_H / 2 + 4,
            escape(&shown)
        );
    }
    svg.push_str("</svg>");
    svg
}
