//! Reach reports as text, Graphviz DOT and Mermaid. Plain string formatting, so the CLI and any
//! other front end print the same thing.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::review::{Hop, ReachReport, ServiceReport, SkippedReport};

/// A path as one line: `group "X" → app "Y" → (aws-auth mapRoles) Kubernetes group …`.
pub fn path_line(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| match &h.via {
            Some(via) => format!("({via}) {}", h.label),
            None => h.label.clone(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The lines describing one service, indented by `indent`.
pub fn service_lines(service: &ServiceReport, indent: &str, delta: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let owner = service
        .owner
        .as_deref()
        .unwrap_or("unknown (not in the catalog)");
    let mark = match (delta, service.new_service) {
        (true, true) => " (new)",
        (true, false) => " (already reached another way; new path)",
        _ => "",
    };
    lines.push(format!(
        "{indent}service {}, owned by {owner}{}{mark}",
        service.service,
        service
            .system
            .as_deref()
            .map(|s| format!(", system {s}"))
            .unwrap_or_default()
    ));
    for path in &service.paths {
        let held = if delta && path.held {
            "  (already held)"
        } else {
            ""
        };
        lines.push(format!("{indent}  via {}{held}", path_line(&path.hops)));
    }
    if service.monitors.is_empty() {
        lines.push(format!("{indent}  monitors: none"));
    }
    for m in &service.monitors {
        let state = m
            .state
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        lines.push(format!(
            "{indent}  monitor {} {} \"{}\"{state}",
            m.source, m.id, m.name
        ));
    }
    if service.recent_deploys.is_empty() {
        lines.push(format!("{indent}  recent deploys: none recorded"));
    }
    for d in &service.recent_deploys {
        let by =
            d.by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
        lines.push(format!(
            "{indent}  deployed {} at {}{by}",
            d.version,
            d.at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    lines
}

pub fn skipped_line(skipped: &SkippedReport) -> String {
    format!("{} — {}", skipped.what, skipped.reason)
}

pub fn text(report: &ReachReport, delta: bool) -> String {
    let mut out = String::new();
    let verb = if delta { "adds" } else { "reaches" };
    let _ = writeln!(
        out,
        "{} {verb} {} production service(s)",
        report.target,
        report.services.len()
    );
    for s in &report.services {
        for line in service_lines(s, "  ", delta) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "skipped non-production:");
        for s in &report.skipped {
            let _ = writeln!(out, "  {}", skipped_line(s));
        }
    }
    out
}

/// A picture's content: node labels, edges between their indexes (with how), skipped nodes.
struct Picture<'a> {
    names: Vec<String>,
    edges: Vec<(usize, usize, Option<&'a str>)>,
    skipped: Vec<usize>,
}

/// Every distinct node and edge of the report's paths, numbered in order of appearance.
fn edges<'r>(report: &'r ReachReport) -> Picture<'r> {
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut names = Vec::new();
    let mut edges = Vec::new();
    let mut skipped = Vec::new();
    let mut id = |label: &str, names: &mut Vec<String>| -> usize {
        *ids.entry(label.to_string()).or_insert_with(|| {
            names.push(label.to_string());
            names.len() - 1
        })
    };
    let mut add_path =
        |hops: &'r [Hop], end: Option<&str>, names: &mut Vec<String>| -> Option<usize> {
            let mut prev: Option<usize> = None;
            for h in hops {
                let n = id(&h.label, names);
                if let Some(p) = prev {
                    edges.push((p, n, h.via.as_deref()));
                }
                prev = Some(n);
            }
            if let Some(end) = end {
                let n = id(&format!("service {end}"), names);
                if let Some(p) = prev {
                    edges.push((p, n, None));
                }
                prev = Some(n);
            }
            prev
        };
    for s in &report.services {
        for p in &s.paths {
            add_path(&p.hops, Some(&s.service), &mut names);
        }
    }
    for s in &report.skipped {
        if let Some(last) = add_path(&s.path, None, &mut names) {
            skipped.push(last);
        }
    }
    edges.sort_unstable();
    edges.dedup();
    Picture {
        names,
        edges,
        skipped,
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(report: &ReachReport) -> String {
    let Picture {
        names,
        edges,
        skipped,
    } = edges(report);
    let mut out = String::from("digraph reach {\n  rankdir=LR;\n  node [shape=box];\n");
    for (i, name) in names.iter().enumerate() {
        let style = if skipped.contains(&i) {
            ", style=dashed, color=gray"
        } else {
            ""
        };
        let _ = writeln!(out, "  n{i} [label=\"{}\"{style}];", escape(name));
    }
    for (a, b, via) in edges {
        match via {
            Some(via) => {
                let _ = writeln!(out, "  n{a} -> n{b} [label=\"{via}\"];");
            }
            None => {
                let _ = writeln!(out, "  n{a} -> n{b};");
            }
        }
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(report: &ReachReport) -> String {
    let Picture {
        names,
        edges,
        skipped,
    } = edges(report);
    let mut out = String::from("flowchart LR\n");
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}\"]", name.replace('"', "#quot;"));
    }
    for (a, b, via) in edges {
        match via {
            Some(via) => {
                let _ = writeln!(out, "  n{a} -->|{via}| n{b}");
            }
            None => {
                let _ = writeln!(out, "  n{a} --> n{b}");
            }
        }
    }
    for i in skipped {
        let _ = writeln!(out, "  class n{i} skipped");
    }
    out.push_str("  classDef skipped stroke-dasharray: 5 5,color:#888\n");
    out
}
