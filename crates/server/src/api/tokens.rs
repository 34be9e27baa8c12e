//! API tokens (administrators): create (shown once), list, revoke.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use grantflow_service::access;
use grantflow_service::tokens::{self as service_tokens, TokenRequest};
use secrecy::ExposeSecret;

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

/// Every token, without secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, description = "The tokens", body = Tokens)))]
pub(crate) async fn list_tokens(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<Tokens>> {
    let tokens = service_tokens::list(&shared.service.store, &actor).await?;
    Ok(Json(Tokens {
        items: tokens.into_iter().map(Token::from).collect(),
    }))
}

/// Makes a token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "The token, shown once", body = CreatedToken)))]
pub(crate) async fn create_token(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    access::authorize(&actor, &access::Permission::ManageTokens)?;
    let roles = new
        .roles
        .iter()
        .map(|name| access::parse_role(name))
        .collect::<Result<Vec<_>, _>>()?;
    let request = TokenRequest {
        name: new.name,
        roles,
        expires_in: service_tokens::parse_lifetime(&new.expires_in)?,
        person: new.person,
    };
    let created = service_tokens::create(&shared.service.store, &actor, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            record: created.record.into(),
            token: created.token.expose_secret().to_string(),
        }),
    ))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, description = "The revoked token", body = Token)))]
pub(crate) async fn revoke_token(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Token>> {
    let revoked = service_tokens::revoke(&shared.service.store, &actor, &id).await?;
    Ok(Json(revoked.into()))
}
