//! Jira Cloud's user management: `POST user` (`{"emailAddress", "products"}`, 201 with the user) and `DELETE
//! user?accountId=` (204: the account leaves the site's user base, its groups and project roles; the Atlassian
//! account itself lives on in Atlassian Administration, which this emulator does not serve). Jira's REST API has
//! no deactivation: `active` is read-only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{JiraError, JiraResult, api_root, json_body};
use super::state::{Jira, User, account_id};
use crate::emulator::{Ctx, json_response};

/// The product a seeded account may use.
pub const DEFAULT_PRODUCT: &str = "jira-software";

/// The products `POST user` accepts (Atlassian's REST v3 reference).
pub const PRODUCTS: &[&str] = &[
    "jira-core",
    "jira-servicedesk",
    "jira-product-discovery",
    "jira-software",
];

fn respond(result: JiraResult<Response>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A plausible email: something before and after one `@`, a dot in the domain.
fn email_like(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// `POST user`: creates the account with access to `products` (`[]`: no product access). An account with that
/// email which already has Jira access is answered as created (201, the existing account), as Jira Cloud does;
/// one without access gains the products asked for, and asking for none is refused.
pub async fn create_user(State(j): State<Arc<Jira>>, ctx: Ctx, body: Bytes) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let body = json_body(&body)?;
        let email = body
            .get("emailAddress")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| JiraError::field("emailAddress", "You must specify an email address."))?
            .to_owned();
        if !email_like(&email) {
            return Err(JiraError::field(
                "emailAddress",
                "You must specify a valid email address.",
            ));
        }
        // The current API requires `products`; the legacy `applicationKeys` (what older clients send) is not read.
        let products: Vec<String> = match body.get("products") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| {
                    p.as_str().map(str::to_owned).ok_or_else(|| {
                        JiraError::field("products", "Expected a list of product keys.")
                    })
                })
                .collect::<JiraResult<_>>()?,
            Some(_) => {
                return Err(JiraError::field(
                    "products",
                    "Expected a list of product keys.",
                ));
            }
            None => {
                return Err(JiraError::field(
                    "products",
                    "You must specify the products the user has access to.",
                ));
            }
        };
        if let Some(unknown) = products.iter().find(|p| !PRODUCTS.contains(&p.as_str())) {
            return Err(JiraError::bad_request(format!(
                "'{unknown}' is not a valid product. Valid products are: {}.",
                PRODUCTS.join(", ")
            )));
        }
        let api = api_root(&ctx);
        let existing = inner
            .users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(&email))
            .map(|u| (u.account_id.clone(), u.products.is_empty()));
        if let Some((id, no_access)) = existing {
            if no_access && products.is_empty() {
                return Err(JiraError::bad_request(format!(
                    "The user with email '{email}' already exists and has no access to any product. Specify the products to grant."
                )));
            }
            if no_access {
                if let Some(user) = inner.users.get_mut(&id) {
                    user.products.extend(products);
                }
                inner.writes.count(format!("user/{id}"));
            }
            let json = inner
                .users
                .get(&id)
                .map(|u| inner.user_json(u, &api))
                .unwrap_or_default();
            return Ok(json_response(StatusCode::CREATED, &json));
        }
        let mut n = 1000 + inner.created_users;
        while inner.users.contains_key(&account_id(n)) {
            n += 1;
        }
        inner.created_users = n - 999;
        let id = account_id(n);
        let user = User {
            account_id: id.clone(),
            display_name: crate::emulator::name_from_email(&email),
            email,
            active: true,
            products: products.into_iter().collect(),
        };
        let json = inner.user_json(&user, &api);
        inner.users.insert(id.clone(), user);
        inner.writes.count(format!("user/{id}"));
        Ok(json_response(StatusCode::CREATED, &json))
    })())
}

/// `DELETE user?accountId=` (the `jira` library sends `username=`, taken as an account id or email): 204. The
/// account leaves every group and project role.
pub async fn delete_user(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let given = ctx
            .param("accountId")
            .or_else(|| ctx.param("username"))
            .filter(|g| !g.is_empty())
            .ok_or_else(|| JiraError::field("accountId", "You must specify the accountId."))?
            .to_owned();
        let id = inner
            .users
            .values()
            .find(|u| u.account_id == given || u.email.eq_ignore_ascii_case(&given))
            .map(|u| u.account_id.clone())
            .ok_or_else(|| {
                JiraError::not_found(format!(
                    "The user with account ID '{given}' does not exist."
                ))
            })?;
        if id == super::state::ADMIN_ACCOUNT_ID {
            return Err(JiraError::bad_request("You cannot delete yourself."));
        }
        inner.users.remove(&id);
        for group in inner.groups.values_mut() {
            group.members.remove(&id);
        }
        for project in inner.projects.values_mut() {
            for actors in project.roles.values_mut() {
                actors.users.remove(&id);
            }
        }
        inner.writes.count(format!("user/{id}"));
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}
