//! The flows of one directory, loaded and checked together (a `call` names another file's flow).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use grantflow_policy::{Diagnostic, Diagnostics};
use serde_json::{Map, Value as Json};

use crate::cards::Type;
use crate::flow::{self, Flow, Input};

#[derive(Debug, Default)]
pub struct FlowSet {
    flows: BTreeMap<String, Arc<Flow>>,
    /// Every flow's inputs, for checking calls (also of a pinned version's text).
    signatures: BTreeMap<String, BTreeMap<String, Input>>,
}

impl FlowSet {
    /// Loads every `.yaml`/`.yml` file of `dir` (or the one file `dir` names). All problems of all files
    /// are reported together.
    pub fn load(dir: &Path) -> Result<FlowSet, Diagnostics> {
        let mut files: Vec<PathBuf> = if dir.is_file() {
            vec![dir.to_path_buf()]
        } else {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                Diagnostics(vec![Diagnostic::whole_file(
                    dir,
                    format!("cannot read the flows directory: {e}"),
                )])
            })?;
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        };
        files.sort();
        let mut sources = Vec::new();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((path, text)),
                Err(e) => {
                    return Err(Diagnostics(vec![Diagnostic::whole_file(
                        &path,
                        format!("cannot read: {e}"),
                    )]));
                }
            }
        }
        Self::from_sources(sources)
    }

    pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<FlowSet, Diagnostics> {
        let mut problems = Vec::new();
        let mut signatures = BTreeMap::new();
        let mut places: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (path, text) in &sources {
            match flow::signature(path, text) {
                Ok((name, inputs)) => {
                    if let Some(first) = places.get(&name) {
                        problems.push(Diagnostic::whole_file(
                            path,
                            format!("flow `{name}` is also defined in {}", first.display()),
                        ));
                    }
                    places.insert(name.clone(), path.clone());
                    signatures.insert(name, inputs);
                }
                Err(d) => problems.extend(d.0),
            }
        }
        let mut flows = BTreeMap::new();
        for (path, text) in &sources {
            match flow::compile(path, text, &signatures) {
                Ok(flow) => {
                    flows.insert(flow.name.clone(), Arc::new(flow));
                }
                Err(d) => {
                    for diagnostic in d.0 {
                        if !problems.contains(&diagnostic) {
                            problems.push(diagnostic);
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(FlowSet { flows, signatures })
        } else {
            Err(Diagnostics(problems))
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.flows.get(name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.flows.values()
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// A stored version's text, compiled against today's helper signatures.
    pub fn compile_pinned(&self, path: &Path, source: &str) -> Result<Arc<Flow>, Diagnostics> {
        flow::compile(path, source, &self.signatures).map(Arc::new)
    }
}

/// A run's inputs checked against the flow's declaration: unknown names refused, defaults filled in,
/// required ones present, types as declared.
pub fn inputs_for(flow: &Flow, given: Json) -> Result<Json, String> {
    let given = match given {
        Json::Null => Map::new(),
        Json::Object(map) => map,
        other => return Err(format!("inputs must be an object, not {other}")),
    };
    let mut out = Map::new();
    for name in given.keys() {
        if !flow.inputs.contains_key(name) {
            let known: Vec<&str> = flow.inputs.keys().map(String::as_str).collect();
            return Err(format!(
                "flow {} has no input `{name}` (its inputs: {})",
                flow.name,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    for (name, input) in &flow.inputs {
        match given.get(name).or(input.default.as_ref()) {
            Some(value) => {
                let value = coerce(value, input.kind);
                if !Type::of(&value).fits(input.kind) {
                    return Err(format!(
                        "input `{name}` of flow {} is {}, but {} was given",
                        flow.name,
                        input.kind.name(),
                        Type::of(&value).name()
                    ));
                }
                out.insert(name.clone(), value);
            }
            None if input.required => {
                return Err(format!("flow {} needs input `{name}`", flow.name));
            }
            None => {}
        }
    }
    Ok(Json::Object(out))
}

/// `key=value` inputs arrive as text: a number or boolean declared as such is read from it.
fn coerce(value: &Json, kind: Type) -> Json {
    let Json::String(text) = value else {
        return value.clone();
    };
    match kind {
        Type::Number => text
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Json::Number))
            .unwrap_or_else(|| value.clone()),
        Type::Boolean => match text.as_str() {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            _ => value.clone(),
        },
        Type::List | Type::Object => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        _ => value.clone(),
    }
}
