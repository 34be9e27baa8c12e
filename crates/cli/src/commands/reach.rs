//! `grantflow reach`: what a group, user or app reaches in production, what a change adds for a
//! person, and who reaches a service; as text, JSON, DOT or Mermaid.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use grantflow_graph::review::{self, HolderReport, ReachReport};
use grantflow_graph::{Graph, Searcher, Target};
use grantflow_service::Service;

#[derive(Subcommand)]
pub enum Query {
    /// What an Okta group reaches.
    Group {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// What a person reaches, through every group and app they hold.
    User {
        login: String,
        #[command(flatten)]
        output: Output,
    },
    /// What an Okta app reaches for the holders assigned to it.
    App {
        label: String,
        #[command(flatten)]
        output: Output,
    },
    /// What joining a group would add to what a person already reaches.
    Delta {
        #[arg(long)]
        user: String,
        #[arg(long)]
        group: String,
        #[command(flatten)]
        output: Output,
    },
    /// Who reaches a service (catalog Component name).
    Service {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// What a change that already happened opened in production: an Okta System Log event (or a
    /// list of them, as `GET /api/v1/logs` returns) in a file, or an open drift finding.
    Event {
        /// A JSON file with the event(s); `-` reads standard input.
        #[arg(long, conflicts_with = "finding", required_unless_present = "finding")]
        file: Option<std::path::PathBuf>,
        /// The key of an open drift finding (`grantflow drift --json` shows them).
        #[arg(long)]
        finding: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where each part of the graph comes from (a synced connection or a file) and how old it is.
    Sources {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct Output {
    #[arg(long)]
    pub json: bool,
    /// Print a picture instead of text.
    #[arg(long, value_enum)]
    pub picture: Option<Picture>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Picture {
    Dot,
    Mermaid,
}

pub async fn run(service: &Service, query: Query) -> anyhow::Result<ExitCode> {
    if let Query::Sources { json } = query {
        let sources = service.reach_sources(&crate::app::actor()).await?;
        print_sources(&sources, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Query::Event {
        file,
        finding,
        json,
    } = query
    {
        let actor = crate::app::actor();
        let answer = match (file, finding) {
            (_, Some(key)) => service
                .reach_of_finding(&actor, &key)
                .await
                .map(|r| vec![r]),
            (Some(path), None) => {
                let events = read_events(&path)?;
                service.reach_of_events(&actor, &events).await
            }
            (None, None) => anyhow::bail!("give --file or --finding"),
        };
        return match answer {
            Ok(reach) => {
                print_events(&reach, json)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => crate::render::refused(&error, ""),
        };
    }
    let Some(graph) = service.graph().await? else {
        eprintln!(
            "error: the configuration has no `reachability:` section (grantflow init --sandbox writes an example)"
        );
        return Ok(ExitCode::from(1));
    };
    let mut searcher = Searcher::new(&graph);
    let (report, output, delta) = match query {
        Query::Service { name, json } => {
            let holders = match review::who_reaches(&graph, &name) {
                Ok(holders) => holders,
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::from(1));
                }
            };
            print_holders(&name, &holders, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        Query::Delta {
            user,
            group,
            output,
        } => {
            let (Ok(held), Ok(added)) = (
                Target::User(user.clone()).starts(&graph),
                Target::Group(group.clone()).starts(&graph),
            ) else {
                eprintln!(
                    "error: user {user} or group \"{group}\" is not in the reachability graph"
                );
                return Ok(ExitCode::from(1));
            };
            let delta = searcher.delta(&held, &added);
            let target = format!("adding {user} to group \"{group}\"");
            (review::delta_report(&graph, &target, &delta), output, true)
        }
        Query::Group { name, output } => (
            reach(&graph, &mut searcher, Target::Group(name))?,
            output,
            false,
        ),
        Query::User { login, output } => (
            reach(&graph, &mut searcher, Target::User(login))?,
            output,
            false,
        ),
        Query::App { label, output } => (
            reach(&graph, &mut searcher, Target::App(label))?,
            output,
            false,
        ),
        Query::Sources { .. } | Query::Event { .. } => return Ok(ExitCode::SUCCESS),
    };
    print_report(&report, &output, delta)?;
    Ok(ExitCode::SUCCESS)
}

fn reach(
    graph: &Graph,
    searcher: &mut Searcher<'_>,
    target: Target,
) -> anyhow::Result<ReachReport> {
    let starts = target.starts(graph)?;
    let reach = searcher.reach(&starts);
    Ok(review::reach_report(graph, &target.to_string(), &reach))
}

/// The events of `path` (`-` for standard input), as JSON.
pub fn read_events(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))
}

/// What each change opened in production.
pub fn print_events(
    reach: &[grantflow_service::reach::EventReach],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reach)?);
        return Ok(());
    }
    for event in reach {
        println!("{}", event.what);
        print!("{}", crate::render::reach_lines(&event.reach, true));
    }
    Ok(())
}

/// The graph's sources, one line each: what it feeds, where it comes from, how old it is.
pub fn print_sources(
    sources: &[grantflow_service::reach::ReachSource],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(sources)?);
        return Ok(());
    }
    if sources.is_empty() {
        println!("no reachability sources (the configuration has no `reachability:` section)");
    }
    let now = chrono::Utc::now();
    for source in sources {
        let age = source.as_of.map_or_else(
            || "never".to_string(),
            |at| {
                let seconds = (now - at).num_seconds().max(0);
                match seconds {
                    0..=119 => format!("{seconds} s old"),
                    120..=7199 => format!("{} min old", seconds / 60),
                    7200..=172_799 => format!("{} h old", seconds / 3600),
                    _ => format!("{} days old", seconds / 86_400),
                }
            },
        );
        let note = source
            .note
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        println!("{:<40} {:<60} {age}{note}", source.part, source.origin);
    }
    Ok(())
}

/// Who reaches a service, one path each.
pub fn print_holders(name: &str, holders: &[HolderReport], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(holders)?);
    } else {
        println!("{} holder(s) reach service {name}", holders.len());
        for h in holders {
            println!("  {}", grantflow_graph::render::path_line(&h.path));
        }
    }
    Ok(())
}

pub fn print_report(report: &ReachReport, output: &Output, delta: bool) -> anyhow::Result<()> {
    match (output.json, output.picture) {
        (true, _) => println!("{}", serde_json::to_string_pretty(report)?),
        (false, Some(Picture::Dot)) => print!("{}", grantflow_graph::render::dot(report)),
        (false, Some(Picture::Mermaid)) => print!("{}", grantflow_graph::render::mermaid(report)),
        (false, None) => print!("{}", grantflow_graph::render::text(report, delta)),
    }
    Ok(())
}
