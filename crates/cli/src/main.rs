//! The `grantflow` binary: argument parsing and dispatch. Business rules
//! live in the library crates; this crate wires them together and renders.

mod app;
mod commands;
mod progress;
mod remote;
mod render;
#[cfg(feature = "sandbox")]
mod sandbox_config;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "grantflow",
    version,
    about = "Declare who should have what; grantflow plans, reviews, applies and audits it."
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "GRANTFLOW_CONFIG", default_value = grantflow_service::config::DEFAULT_CONFIG)]
    config: PathBuf,
    /// Store URL (overrides the configuration), e.g. sqlite://grantflow.db.
    #[arg(long, global = true, env = "GRANTFLOW_DATABASE")]
    database: Option<String>,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Talk to a grantflow server (`grantflow serve`) instead of the local store: https://…, or http:// only to
    /// 127.0.0.1 or localhost. The API token comes from GRANTFLOW_TOKEN or --token-file.
    #[arg(long, global = true, env = "GRANTFLOW_SERVER", value_name = "URL")]
    server: Option<String>,
    /// A file holding the API token for --server (only its owner may read it: chmod 600). There is no --token
    /// flag, so the token stays out of shell history and the process list.
    #[arg(long, global = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole story on the built-in sandbox: sync, plan, review, apply, verify.
    #[cfg(feature = "sandbox")]
    Demo {
        /// Keep the demo's store and files here instead of a temporary folder.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Policies to use instead of the examples.
        #[arg(long)]
        policies: Option<PathBuf>,
        /// Run a built-in scenario instead of the example policies: `group-push` (scenario 3: an OPA secret
        /// folder, an Okta group pushed to Okta Privileged Access, and an OPA security policy for it) or
        /// `senior-engineer` (scenario 4: "Senior Engineer Access" for a new hire across seven systems,
        /// through a Jira timeout and a GitLab account that appears at the first SSO login), or
        /// `sales-engineer` (seed 003's Sales Engineer from the HRIS to retirement: accounts created in
        /// every system on the start date, Jira timeouts before and after the effect, a GitLab wait for
        /// the first SSO login, everything retired once the end date passes, and the audit timeline).
        #[arg(long, conflicts_with = "policies")]
        scenario: Option<String>,
    },
    /// Local emulators of the systems grantflow manages.
    #[cfg(feature = "sandbox")]
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Write a starting grantflow.yaml.
    Init {
        /// Point the connections at a running sandbox (its --info file).
        #[arg(long)]
        sandbox: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Import users, groups, apps and assignments from each connection
    /// (after the first time, only what changed, where the system allows).
    Sync {
        /// Only this connection.
        #[arg(conflicts_with = "system")]
        connection: Option<String>,
        /// Only this connection (the same as CONNECTION).
        #[arg(long)]
        system: Option<String>,
        /// Read everything, even when the changes since the last sync could be read instead.
        #[arg(long)]
        full: bool,
    },
    /// Run one action on an account (suspend, reset_mfa, clear_sessions, …),
    /// assign or remove an app (`assign-app`/`remove-app --app LABEL`), or
    /// push a group to an app (`push-group GROUP --app LABEL`).
    Action {
        /// The connection, e.g. okta.
        connection: String,
        /// activate, reactivate, suspend, unsuspend, unlock, deactivate, delete,
        /// reset_password, expire_password, reset_mfa, clear_sessions,
        /// assign-app, remove-app or push-group.
        verb: String,
        /// The account's login, email or id (for push-group: the group's name).
        who: String,
        /// The app's label (assign-app, remove-app, push-group).
        #[arg(long)]
        app: Option<String>,
        /// push-group: the group's name in the app (default: the same name).
        #[arg(long)]
        target_name: Option<String>,
        /// Action options as key=value: send_email (activate, reset_password, …),
        /// temp_password and revoke_sessions (reset_password), oauth_tokens (clear_sessions).
        #[arg(long = "option", short = 'o')]
        options: Vec<String>,
        /// Apply without asking.
        #[arg(long, short)]
        yes: bool,
        /// Print the plan and the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every connection: the system answers, takes the credentials and
    /// grants the scopes needed (where it says). Exit code 1 when any fails.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API (/api/v1, authenticated with `grantflow token create` tokens), receive event hooks,
    /// sync and check drift on an interval, and run queued plans.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// Seconds between scheduled syncs (0: only on event hooks).
        #[arg(long, default_value_t = 300)]
        interval: u64,
        /// Seconds between drift checks, each after a sync (default:
        /// `drift.interval_seconds` from the configuration; 0: only after
        /// the other syncs). Every sync is followed by a drift check.
        #[arg(long)]
        drift_interval: Option<u64>,
        /// Do not run queued plans here; leave them to `grantflow worker` processes.
        #[arg(long)]
        no_worker: bool,
    },
    /// API tokens for `grantflow serve` (administrators; in the local store).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Compare the policies with the last sync and store the plan that closes the gap
    /// (`plan show ID`: a stored plan).
    #[command(args_conflicts_with_subcommands = true)]
    Plan {
        /// Policy file or folder (default: from the configuration).
        policies: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<PlanCommand>,
    },
    /// The directory's people (whose email, login or name contains QUERY).
    People {
        query: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One person's accounts and what they hold in every system.
    Person {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Who this command acts as, and its roles.
    Whoami,
    /// Execute a stored plan; resumable after a crash. Exit code 0: all
    /// done; 1: something failed; 3: something is still waiting or retrying.
    Apply {
        plan_id: String,
        #[arg(long)]
        json: bool,
        /// Operations in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Apply even though the plan removes more than the safety rail
        /// allows; must name the plan being applied.
        #[arg(long, value_name = "PLAN_ID")]
        allow_mass_removal: Option<String>,
        /// Apply a leaver plan: the accounts it retires (and what is removed from them) do not
        /// count against the safety rail, which still holds for the rest; must name the plan
        /// being applied (audited as plan.leaver_allowed).
        #[arg(long, value_name = "PLAN_ID")]
        allow_leavers: Option<String>,
        /// How long this process holds an operation before another worker may take it over.
        #[arg(long, default_value_t = 60)]
        lease_seconds: u64,
        /// Only queue the plan for `grantflow worker` processes; do not run it here.
        #[arg(long)]
        queue: bool,
        /// Do not wait for the plan to run (with --server: queue it and return; locally: --queue).
        #[arg(long)]
        no_wait: bool,
    },
    /// Compare what people hold in every system with what the policies want,
    /// after a sync; record each finding and remediate as configured
    /// (`drift:` in grantflow.yaml, `drift:` on a policy). Exit code 0: no
    /// drift (or all of it fixed); 1: a fix failed; 4: drift is flagged or
    /// waits for approval.
    Drift {
        /// Policy file or folder (default: from the configuration).
        policies: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Judge the last sync instead of syncing first.
        #[arg(long)]
        no_sync: bool,
        /// Operations in flight at once while remediating.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Approve a plan that waits for approval (drift remediation); nobody
    /// approves their own request.
    Approve { plan_id: String },
    /// Work on every queued plan (PostgreSQL mode: several workers share the work).
    Worker {
        /// Operations in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Exit once no queued plan has unfinished operations.
        #[arg(long)]
        exit_when_idle: bool,
        /// How long this worker holds an operation before another may take it over.
        #[arg(long, default_value_t = 60)]
        lease_seconds: u64,
    },
    /// One change in words, e.g. "assign alice@example.com to the Engineering group".
    Do {
        request: String,
        /// Apply without asking.
        #[arg(long, short)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Access requests: ask (a change in words, a bundle, an account action), list, show, approve, deny.
    Request {
        #[command(subcommand)]
        command: RequestCommand,
    },
    /// What access reaches in production: services, paths, owners, monitors, deploys.
    Reach {
        #[command(subcommand)]
        query: commands::reach::Query,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Workflows: check flow files, run a flow, see what it would do, read its runs card by card.
    Flow {
        #[command(subcommand)]
        command: commands::flow::FlowCommand,
    },
}

#[cfg(feature = "sandbox")]
#[derive(Subcommand)]
enum SandboxCommand {
    /// Serve every emulator on 127.0.0.1 until interrupted.
    Up {
        /// Organisation file (default: the built-in demo organisation).
        #[arg(long)]
        org: Option<PathBuf>,
        /// Write each system's base URL and credentials here (JSON).
        #[arg(long)]
        info: Option<PathBuf>,
        /// Port for the Okta emulator (default: any free port).
        #[arg(long, default_value_t = 0)]
        okta_port: u16,
        /// Faults to start with (YAML: system → network | faults | rate-limits → settings).
        #[arg(long)]
        faults: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain, and against every signed checkpoint when `audit:` is configured; names the first
    /// broken event. Exit code 1 when broken.
    Verify,
    /// Write every event as JSON Lines.
    Export {
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Sign the chain's head with the audit key and append the checkpoint to `audit.checkpoints` (outside the
    /// database). Needs a key: run `keygen` first (none is ever made implicitly).
    Checkpoint,
    /// Make a new Ed25519 checkpoint signing key (PKCS#8 PEM, owner-only) at `audit.signing_key.file` and print its
    /// public key. Never overwrites a key.
    Keygen {
        /// Write the key here instead of the configured `audit.signing_key.file`.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct AskArgs {
    /// The change in words, e.g. "assign lena@example.com to the Production Access Demo group".
    text: Option<String>,
    /// Why it is needed (recorded, shown to reviewers).
    #[arg(long)]
    reason: String,
    /// Ask for a bundle declared in the policy files instead.
    #[arg(long, conflicts_with = "text")]
    bundle: Option<String>,
    /// Ask for an account action instead (reset-mfa, unlock, suspend, …), with --who.
    #[arg(long, conflicts_with_all = ["text", "bundle"])]
    action: Option<String>,
    /// The account of the action (a login or email).
    #[arg(long, requires = "action")]
    who: Option<String>,
    /// The connection of the action (default: okta).
    #[arg(long, requires = "action")]
    connection: Option<String>,
    /// Who a bundle is for (default: yourself).
    #[arg(long = "for")]
    for_person: Option<String>,
    /// How long the access lasts: 8h, 30m, 2d (it is removed then).
    #[arg(long)]
    duration: Option<String>,
    /// A ticket reference.
    #[arg(long)]
    ticket: Option<String>,
    /// Take a break-glass bundle now; it is reviewed afterwards.
    #[arg(long, requires = "bundle")]
    break_glass: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum RequestCommand {
    /// Ask for access or an action; the approval rules of the policy files say who must agree.
    Ask(AskArgs),
    /// The requests you may see (yours, those you may review; all for administrators).
    List {
        /// pending, approved, active, done, ended, denied or expired.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One request: its stages, decisions, review and timeline.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve the request's current stage as one of its reviewers.
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        json: bool,
    },
    /// Deny the request as one of its current stage's reviewers.
    Deny {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token and print it once (only its hash is kept).
    Create {
        /// Recorded in the audit trail as `token:<name>`.
        #[arg(long)]
        name: String,
        /// admin, approver, requester, auditor, viewer or operator:<connection>; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// How long it lives: 30d, 12h, 90m (at most 366d).
        #[arg(long, default_value = "30d")]
        expires_in: String,
        /// The person (email) the token acts for: its requests and reviews are theirs.
        #[arg(long)]
        person: Option<String>,
    },
    /// Every token (never their secrets): roles, expiry, last use, revoked or not.
    List,
    /// Revoke a token at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum PlanCommand {
    /// A stored plan for review, and how far it ran.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the JSON Schema of policy files.
    Schema,
    /// Load and check policies (against the last sync, when there is one).
    Check { policies: Option<PathBuf> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRANTFLOW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(server) = cli.server.as_deref() {
        let quiet = cli.quiet;
        return match remote_command(server, cli.token_file.as_deref(), cli.command, quiet).await {
            Err(error) => match error.downcast_ref::<remote::Problem>() {
                // A refusal (4xx) as the local commands show theirs: exit code 1.
                Some(problem) if problem.status < 500 => {
                    eprintln!("refused: {problem}");
                    Ok(ExitCode::from(1))
                }
                _ => Err(error),
            },
            done => done,
        };
    }
    if cli.token_file.is_some() {
        anyhow::bail!("--token-file is for --server; without it, commands use the local store");
    }
    let options = app::Options {
        config: cli.config,
        database: cli.database,
        quiet: cli.quiet,
    };
    let quiet = options.quiet;
    match cli.command {
        #[cfg(feature = "sandbox")]
        Command::Demo {
            dir,
            policies,
            scenario,
        } => commands::demo::run(&options, dir, policies, scenario).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            command:
                SandboxCommand::Up {
                    org,
                    info,
                    okta_port,
                    faults,
                },
        } => commands::sandbox::up(org, info, okta_port, faults).await,
        Command::Init { sandbox, force } => commands::init::run(&options.config, sandbox, force),
        Command::Sync {
            connection,
            system,
            full,
        } => {
            let service = options.open().await?;
            let only = connection.or(system);
            commands::sync::run(&service, only.as_deref(), full, quiet).await
        }
        Command::People { query, json } => {
            let service = options.open().await?;
            commands::people::people(&service, query.as_deref(), json).await
        }
        Command::Person { email, json } => {
            let service = options.open().await?;
            commands::people::person(&service, &email, json).await
        }
        Command::Whoami => Ok(commands::people::whoami()),
        Command::Action {
            connection,
            verb,
            who,
            app: app_label,
            target_name,
            options: action_options,
            yes,
            json,
        } => {
            let service = options.open().await?;
            let action = grantflow_service::ActionRequest {
                connection,
                verb,
                who,
                app: app_label,
                target_name,
                options: action_options,
            };
            commands::action::run(&service, action, yes, json, quiet).await
        }
        Command::Check { json } => {
            let service = options.open().await?;
            commands::check::run(&service, json).await
        }
        // Checking named flow files needs no configuration or store.
        Command::Flow {
            command: commands::flow::FlowCommand::Check { path: Some(path) },
        } => commands::flow::check(&path),
        #[cfg(feature = "sandbox")]
        Command::Flow {
            command:
                commands::flow::FlowCommand::Test {
                    flow,
                    event,
                    inputs,
                    flows,
                    json,
                },
        } => commands::flow::test(&flow, event.as_deref(), &inputs, flows.as_deref(), json).await,
        Command::Flow { command } => {
            let service = options.open().await?;
            commands::flow::run(&service, command).await
        }
        Command::Serve {
            listen,
            interval,
            drift_interval,
            no_worker,
        } => {
            let service = options.open().await?;
            let serve = grantflow_server::ServeOptions {
                listen,
                sync_interval_seconds: interval,
                drift_interval_seconds: drift_interval
                    .unwrap_or(service.config.drift.interval_seconds),
                worker: (!no_worker).then(grantflow_service::ApplyOptions::default),
            };
            commands::serve::run(service, serve).await
        }
        Command::Token { command } => {
            // Tokens live in the store; no connection credentials are needed.
            let config = if options.config.exists() {
                Some(options.load_config()?)
            } else {
                None
            };
            let store =
                grantflow_service::open_store_only(config.as_ref(), options.database.as_deref())
                    .await?;
            match command {
                TokenCommand::Create {
                    name,
                    roles,
                    expires_in,
                    person,
                } => commands::token::create(&store, name, &roles, &expires_in, person).await,
                TokenCommand::List => commands::token::list(&store).await,
                TokenCommand::Revoke { id } => commands::token::revoke(&store, &id).await,
            }
        }
        Command::Drift {
            policies,
            json,
            no_sync,
            concurrency,
        } => {
            let service = options.open().await?;
            let drift = commands::drift::DriftOptions {
                policies,
                json,
                no_sync,
                concurrency,
                quiet,
            };
            commands::drift::run(&service, drift).await
        }
        Command::Approve { plan_id } => {
            let service = options.open().await?;
            commands::drift::approve(&service, &plan_id).await
        }
        Command::Plan {
            command: Some(PlanCommand::Show { id, json }),
            ..
        } => {
            let service = options.open().await?;
            commands::plan::show(&service, &id, json).await
        }
        Command::Plan {
            policies,
            json,
            command: None,
        } => {
            let service = options.open().await?;
            commands::plan::run(&service, policies, json).await
        }
        Command::Apply {
            plan_id,
            json,
            concurrency,
            allow_mass_removal,
            allow_leavers,
            lease_seconds,
            queue,
            no_wait,
        } => {
            let service = options.open().await?;
            let apply = grantflow_service::ApplyOptions {
                concurrency,
                allow_mass_removal,
                allow_leavers,
                lease: std::time::Duration::from_secs(lease_seconds),
                queue_only: queue || no_wait,
            };
            commands::apply::run(&service, &plan_id, &apply, json, quiet).await
        }
        Command::Worker {
            concurrency,
            exit_when_idle,
            lease_seconds,
        } => {
            let service = options.open().await?;
            let apply = grantflow_service::ApplyOptions {
                concurrency,
                lease: std::time::Duration::from_secs(lease_seconds),
                ..Default::default()
            };
            commands::worker::run(&service, &apply, exit_when_idle).await
        }
        Command::Do { request, yes, json } => {
            let service = options.open().await?;
            commands::request::run(&service, &request, yes, json, quiet).await
        }
        Command::Request { command } => {
            let service = options.open().await?;
            match command {
                RequestCommand::Ask(args) => {
                    let (ask, json) = ask_of(args);
                    commands::requests::ask(&service, &ask, json).await
                }
                RequestCommand::List { state, json } => {
                    commands::requests::list(&service, state.as_deref(), json).await
                }
                RequestCommand::Show { id, json } => {
                    commands::requests::show(&service, &id, json).await
                }
                RequestCommand::Approve { id, comment, json } => {
                    commands::requests::decide(&service, &id, true, &comment, json).await
                }
                RequestCommand::Deny { id, comment, json } => {
                    commands::requests::decide(&service, &id, false, &comment, json).await
                }
            }
        }
        Command::Reach { query } => {
            let service = options.open().await?;
            commands::reach::run(&service, query).await
        }
        Command::Audit { command } => commands::audit::run(&options, command).await,
        Command::Policy { command } => match command {
            PolicyCommand::Schema => commands::policy::schema(),
            PolicyCommand::Check { policies } => {
                let service = options.open().await?;
                commands::policy::check(&service, policies).await
            }
        },
    }
}

/// `request ask`'s arguments as the command module takes them, and `--json`.
fn ask_of(args: AskArgs) -> (commands::requests::Ask, bool) {
    (
        commands::requests::Ask {
            text: args.text,
            bundle: args.bundle,
            action: args.action,
            who: args.who,
            connection: args.connection,
            for_person: args.for_person,
            reason: args.reason,
            duration: args.duration,
            ticket: args.ticket,
            break_glass: args.break_glass,
        },
        args.json,
    )
}

/// The commands that go through a server's API; the others say they work on the local store only.
async fn remote_command(
    server: &str,
    token_file: Option<&std::path::Path>,
    command: Command,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let local_only = |what: &str| -> anyhow::Result<ExitCode> {
        anyhow::bail!(
            "`grantflow {what}` works on the local store and does not take --server (unset GRANTFLOW_SERVER or \
             drop --server)"
        )
    };
    // Commands that never reach the server are refused before the token is read.
    match &command {
        #[cfg(feature = "sandbox")]
        Command::Demo { .. } => return local_only("demo"),
        #[cfg(feature = "sandbox")]
        Command::Sandbox { .. } => return local_only("sandbox"),
        Command::Init { .. } => return local_only("init"),
        Command::Serve { .. } => return local_only("serve"),
        Command::Worker { .. } => return local_only("worker"),
        Command::Policy { .. } => return local_only("policy"),
        Command::Flow { .. } => return local_only("flow"),
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => return local_only("audit checkpoint"),
        Command::Audit {
            command: AuditCommand::Keygen { .. },
        } => return local_only("audit keygen"),
        _ => {}
    }
    let remote = remote::Remote::connect(server, token_file)?;
    use commands::remote as api;
    match command {
        Command::Whoami => api::whoami(&remote).await,
        Command::People { query, json } => api::people(&remote, query.as_deref(), json).await,
        Command::Person { email, json } => api::person(&remote, &email, json).await,
        Command::Plan {
            command: Some(PlanCommand::Show { id, json }),
            ..
        } => api::show(&remote, &id, json).await,
        Command::Plan {
            policies,
            json,
            command: None,
        } => api::plan(&remote, policies, json).await,
        Command::Do { request, yes, json } => {
            api::request(&remote, &request, yes, json, quiet).await
        }
        Command::Action {
            connection,
            verb,
            who,
            app,
            target_name,
            options,
            yes,
            json,
        } => {
            let action = serde_json::json!({
                "connection": connection, "verb": verb, "who": who,
                "app": app, "target_name": target_name, "options": options,
            });
            api::action(&remote, action, yes, json, quiet).await
        }
        Command::Approve { plan_id } => api::approve(&remote, &plan_id).await,
        Command::Request { command } => match command {
            RequestCommand::Ask(args) => {
                let (ask, json) = ask_of(args);
                commands::requests::remote::ask(&remote, &ask, json).await
            }
            RequestCommand::List { state, json } => {
                commands::requests::remote::list(&remote, state.as_deref(), json).await
            }
            RequestCommand::Show { id, json } => {
                commands::requests::remote::show(&remote, &id, json).await
            }
            RequestCommand::Approve { id, comment, json } => {
                commands::requests::remote::decide(&remote, &id, true, &comment, json).await
            }
            RequestCommand::Deny { id, comment, json } => {
                commands::requests::remote::decide(&remote, &id, false, &comment, json).await
            }
        },
        Command::Apply {
            plan_id,
            json,
            queue,
            no_wait,
            allow_mass_removal,
            allow_leavers,
            ..
        } => {
            api::run_apply(
                &remote,
                &plan_id,
                allow_mass_removal.as_deref(),
                allow_leavers.as_deref(),
                !(queue || no_wait),
                json,
                quiet,
            )
            .await
        }
        Command::Sync {
            connection,
            system,
            full,
        } => api::sync(&remote, connection.or(system).as_deref(), full).await,
        Command::Drift { policies, json, .. } => api::drift(&remote, policies, json).await,
        Command::Reach { query } => api::reach(&remote, query).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => api::audit_verify(&remote).await,
        Command::Audit {
            command: AuditCommand::Export { output },
        } => api::audit_export(&remote, output).await,
        Command::Token { command } => match command {
            TokenCommand::Create {
                name,
                roles,
                expires_in,
                person,
            } => commands::token::remote::create(&remote, name, &roles, &expires_in, person).await,
            TokenCommand::List => commands::token::remote::list(&remote).await,
            TokenCommand::Revoke { id } => commands::token::remote::revoke(&remote, &id).await,
        },
        _ => local_only("this command"),
    }
}
