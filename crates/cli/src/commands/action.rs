//! `grantflow action CONNECTION VERB WHO`: one account action (suspend,
//! reset MFA, …), an app assignment or a group push, as a one-operation
//! plan that is stored, confirmed, applied by the engine and audited like
//! any other. A temporary password is printed once and kept nowhere.

use std::process::ExitCode;

use grantflow_service::{ActionRequest, Service};
use secrecy::ExposeSecret;

use crate::app::actor;
use crate::commands::{plan, request};
use crate::render;

pub async fn run(
    service: &Service,
    action: ActionRequest,
    yes: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let proposal = match service.request_action(&actor(), &action).await {
        Ok(proposal) => proposal,
        Err(error) => return render::refused(&error, "Nothing was changed."),
    };
    plan::print_proposal(&proposal, json)?;
    let details = serde_json::json!({ "action": action.verb });
    let code =
        request::confirm_and_apply(service, &proposal.plan.id, yes, json, quiet, details).await?;
    for (_, who, secret) in service.take_secrets(&proposal.plan) {
        // The only place the secret ever appears: not in the plan, the store or the audit trail.
        println!(
            "Temporary password for {who} (shown once; it is not stored): {}",
            secret.expose_secret()
        );
    }
    Ok(code)
}
