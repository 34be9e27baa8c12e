//! `grantflow action CONNECTION VERB WHO`: one account action (suspend,
//! reset MFA, …), an app assignment or a group push, run as a one-operation
//! plan that is stored, confirmed, applied by the engine and audited like
//! any other. A temporary password is printed once and kept nowhere.

use std::collections::BTreeMap;
use std::process::ExitCode;

use grantflow_model::{
    AccountRef, Basis, ConnectionName, OpKind, Operation, OperationId, Plan, ResourceRef, Review,
    Snapshot,
};
use secrecy::ExposeSecret;

use crate::app::App;
use crate::commands::{apply, request};
use crate::render;

/// What the command line asked for.
pub struct ActionArgs {
    pub connection: String,
    pub verb: String,
    /// A login, email or id (a group name for `push-group`).
    pub who: String,
    /// The app label for `assign-app`, `remove-app` and `push-group`.
    pub app: Option<String>,
    /// `push-group`: the group's name in the app (default: the same name).
    pub target_name: Option<String>,
    /// `key=value` options of the action.
    pub options: Vec<String>,
    pub yes: bool,
    pub json: bool,
}

pub async fn run(app: &App, args: ActionArgs) -> anyhow::Result<ExitCode> {
    let connection = ConnectionName::new(args.connection.clone());
    let Some(connector) = app.connectors.get(&connection) else {
        anyhow::bail!("no connection named \"{}\"", args.connection);
    };
    let actual = app.actual_state().await?;
    let Some(snapshot) = actual.snapshots.get(&connection) else {
        anyhow::bail!(
            "connection {connection} has not been synced yet; run `grantflow sync` first"
        );
    };
    let kind = match operation_kind(snapshot, &args) {
        Ok(kind) => kind,
        Err(message) => {
            eprintln!("error: {message}\nNothing was changed.");
            return Ok(ExitCode::from(1));
        }
    };
    let op = Operation {
        id: OperationId(0),
        connection: connection.clone(),
        kind,
        reasons: vec![format!("action {} requested by {}", args.verb, app.actor)],
        depends_on: vec![],
    };
    if let Err(failure) = connector.check(&op) {
        eprintln!("error: {}\nNothing was changed.", failure.message());
        return Ok(ExitCode::from(1));
    }
    let created_at = app.store.now();
    let origin = format!("action {} {} {}", connection, args.verb, args.who);
    let basis = actual
        .sync_ids
        .get(&connection)
        .map(|sync_id| Basis {
            connection: connection.clone(),
            sync_id: sync_id.clone(),
            digest: snapshot.digest(),
        })
        .into_iter()
        .collect();
    let content = serde_json::json!({"origin": origin, "at": created_at, "op": op});
    let digest = grantflow_model::sha256_hex(content.to_string().as_bytes());
    let plan = Plan {
        id: format!("p-{}", &digest[..12]),
        created_at,
        origin,
        basis,
        operations: vec![op],
        review: Review::default(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        let reach = crate::commands::reach::review(app, &plan).await?;
        print!("{}", render::plan(&plan, reach.as_ref()));
    }
    app.store.save_plan(&plan, &app.actor).await?;
    let how = if args.yes {
        "--yes"
    } else if request::confirm(&plan.id)? {
        "prompt"
    } else {
        app.store
            .audit(&app.actor, "plan.declined", &plan.id, serde_json::json!({}))
            .await?;
        println!(
            "Not applied. The plan is stored; apply it later with: grantflow apply {}",
            plan.id
        );
        return Ok(ExitCode::SUCCESS);
    };
    app.store
        .audit(
            &app.actor,
            "plan.confirmed",
            &plan.id,
            serde_json::json!({"action": args.verb, "confirmed_by": app.actor, "via": how}),
        )
        .await?;
    let report = apply::execute(app, &plan, 1).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::report(&report));
    }
    for op in &plan.operations {
        if let Some(secret) = connector.take_secret(op) {
            // The only place the secret ever appears: not in the plan, the store or the audit trail.
            println!(
                "Temporary password for {} (shown once; it is not stored): {}",
                args.who,
                secret.expose_secret()
            );
        }
    }
    Ok(apply::exit_code(&report))
}

/// `key=value` options as a map; a bare `key` means `key=true`.
fn options(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|option| {
            let (key, value) = option.split_once('=').unwrap_or((option.as_str(), "true"));
            let key = key.trim().replace('-', "_");
            if key.is_empty() {
                return Err(format!("option \"{option}\" has no name"));
            }
            Ok((key, value.trim().to_string()))
        })
        .collect()
}

fn account(snapshot: &Snapshot, who: &str) -> Result<AccountRef, String> {
    snapshot
        .account_by_login_or_email(who)
        .or_else(|| snapshot.account(who))
        .map(|a| AccountRef {
            id: a.id.clone(),
            login: a.login.clone(),
        })
        .ok_or_else(|| format!("no account \"{who}\" in the last sync (run `grantflow sync`?)"))
}

fn resource(snapshot: &Snapshot, kind: &str, name: Option<&str>) -> Result<ResourceRef, String> {
    let name = name.ok_or_else(|| format!("name the {kind} with --{kind}"))?;
    snapshot
        .resource_by_name(kind, name)
        .map(|r| ResourceRef {
            id: r.id.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
        })
        .ok_or_else(|| format!("no {kind} \"{name}\" in the last sync"))
}

fn operation_kind(snapshot: &Snapshot, args: &ActionArgs) -> Result<OpKind, String> {
    let verb = args.verb.replace('-', "_");
    Ok(match verb.as_str() {
        "assign_app" => OpKind::AddGrant {
            account: account(snapshot, &args.who)?,
            resource: resource(snapshot, "app", args.app.as_deref())?,
            entitlement: "assigned".into(),
        },
        "remove_app" => OpKind::RemoveGrant {
            account: account(snapshot, &args.who)?,
            resource: resource(snapshot, "app", args.app.as_deref())?,
            entitlement: "assigned".into(),
        },
        "push_group" => OpKind::PushGroup {
            group: resource(snapshot, "group", Some(&args.who))?,
            resource: resource(snapshot, "app", args.app.as_deref())?,
            target_name: args.target_name.clone(),
        },
        _ => OpKind::account_action(account(snapshot, &args.who)?, verb, options(&args.options)?),
    })
}
