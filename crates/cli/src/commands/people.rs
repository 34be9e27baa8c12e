//! `grantflow people [QUERY]`, `grantflow person EMAIL` and `grantflow whoami`
//! on the local store.

use std::process::ExitCode;

use grantflow_service::Service;

use crate::render;

pub async fn people(
    service: &Service,
    query: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let found = match service.people(query).await {
        Ok(found) => found,
        Err(error) => return render::refused(&error, ""),
    };
    let found: Vec<render::Person> = found.into_iter().map(Into::into).collect();
    print_people(&found, json)
}

pub fn print_people(found: &[render::Person], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
    } else {
        print!("{}", render::people(found));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn person(service: &Service, email: &str, json: bool) -> anyhow::Result<ExitCode> {
    let access = match service.person(email).await {
        Ok(access) => render::PersonAccess::from(access),
        Err(error) => return render::refused(&error, ""),
    };
    print_person(&access, json)
}

pub fn print_person(access: &render::PersonAccess, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(access)?);
    } else {
        print!("{}", render::person(access));
    }
    Ok(ExitCode::SUCCESS)
}

/// Who runs the command, and the roles they hold.
pub fn print_whoami(actor: &str, roles: &[String], place: &str) -> ExitCode {
    println!("{actor} ({}) on {place}", roles.join(", "));
    ExitCode::SUCCESS
}

/// `grantflow whoami` without a server: the local operator.
pub fn whoami() -> ExitCode {
    let actor = crate::app::actor();
    let roles: Vec<String> = actor
        .roles
        .iter()
        .map(grantflow_service::access::role_name)
        .collect();
    print_whoami(&actor.id, &roles, "the local store")
}
