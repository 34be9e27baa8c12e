//! The token endpoint: client authentication (basic or post, as the app is
//! configured), the authorization-code grant with its PKCE check, and the
//! tokens it mints.

use super::*;

/// `POST /v1/token`.
pub(super) async fn token(
    o: Arc<Okta>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
    server: AuthServer,
) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(&o, &ctx, &headers, &form, server),
        Some("client_credentials") if server == AuthServer::Org => {
            super::super::oauth::token(State(o), ctx, body).await
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [authorization_code].",
        ),
    }
}

fn authorization_code(
    o: &Okta,
    ctx: &Ctx,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
    server: AuthServer,
) -> Response {
    let app = match authenticate_client(o, headers, form) {
        Ok(app) => app,
        Err(refusal) => return refusal.into_response(),
    };
    let invalid_code = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The authorization code is invalid or has expired.",
        )
    };
    let field = |name: &str| form.get(name).map(String::as_str);
    // Good once: the code is gone whatever this exchange's outcome.
    let grant = lock(&o.oidc.flows)
        .codes
        .remove(field("code").unwrap_or(""))
        .filter(|g| g.client_id == app.client_id && g.server == server && g.expires > ctx.now);
    let Some(grant) = grant else {
        return invalid_code();
    };
    if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        );
    }
    let pkce_holds = match (&grant.code_challenge, field("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            is_pkce_value(verifier) && s256(verifier) == *challenge
        }
        (None, None) => true,
        _ => false,
    };
    if !pkce_holds {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed.",
        );
    }
    let Some(key) = o.oidc.key(server) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The signing key could not be made.",
        );
    };
    let inner = o.core.state();
    // A person switched off since signing in gets nothing.
    let Some(user) = inner
        .users
        .get(&grant.user_id)
        .filter(|u| u.status == UserStatus::Active)
    else {
        return invalid_code();
    };
    let now = ctx.now.timestamp();
    let access_token_claims = json!({
        "ver": 1,
        "jti": format!("AT.{}", random_token("", 43)),
        "iss": server.issuer(ctx),
        "aud": server.access_audience(ctx),
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "cid": app.client_id,
        "uid": user.id,
        "scp": grant.scopes,
        "auth_time": grant.auth_time.timestamp(),
        "sub": user.login(),
    });
    let Some(access_token) = sign(key, &access_token_claims) else {
        return signing_failed();
    };
    let mut id_claims = Map::new();
    id_claims.insert("sub".into(), user.id.clone().into());
    id_claims.insert("ver".into(), 1.into());
    id_claims.insert("iss".into(), server.issuer(ctx).into());
    id_claims.insert("aud".into(), app.client_id.clone().into());
    id_claims.insert("iat".into(), now.into());
    id_claims.insert("exp".into(), (now + TOKEN_SECONDS).into());
    id_claims.insert("jti".into(), format!("ID.{}", random_token("", 43)).into());
    id_claims.insert("amr".into(), json!(["pwd"]));
    id_claims.insert("idp".into(), ORG_IDP_ID.into());
    if let Some(nonce) = &grant.nonce {
        id_claims.insert("nonce".into(), nonce.clone().into());
    }
    id_claims.insert("auth_time".into(), grant.auth_time.timestamp().into());
    id_claims.insert("at_hash".into(), at_hash(&access_token).into());
    id_claims.extend(scope_claims(&inner, user, &app, &grant.scopes));
    let Some(id_token) = sign(key, &Value::Object(id_claims)) else {
        return signing_failed();
    };
    drop(inner);
    lock(&o.oidc.flows).access_tokens.insert(
        access_token.clone(),
        AccessGrant {
            server,
            client_id: app.client_id.clone(),
            user_id: grant.user_id,
            scopes: grant.scopes.clone(),
            expires: ctx.now + Duration::seconds(TOKEN_SECONDS),
        },
    );
    let mut resp = json_response(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "access_token": access_token,
            "scope": grant.scopes.join(" "),
            "id_token": id_token,
        }),
    );
    // RFC 6749 §5.1: token responses are never cached.
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// The app behind the request's client credentials, sent the one way its app is configured for.
fn authenticate_client(
    o: &Okta,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Result<OidcApp, ClientRefusal> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let posted_secret = form.get("client_secret");
    let (client_id, secret, method) = match (basic, posted_secret) {
        (Some(_), Some(_)) => {
            return Err(ClientRefusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
            ));
        }
        (Some(encoded), None) => {
            let Some((id, secret)) = decode_basic(encoded) else {
                return Err(ClientRefusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The basic authentication header is malformed.",
                ));
            };
            (id, secret, TokenAuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => (
            form.get("client_id").cloned().unwrap_or_default(),
            secret.clone(),
            TokenAuthMethod::ClientSecretPost,
        ),
        (None, None) => {
            return Err(ClientRefusal::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "No client credentials found.",
            ));
        }
    };
    let app = o.core.state().oidc_apps.get(&client_id).cloned();
    let Some(app) = app else {
        return Err(ClientRefusal::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        ));
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        app.client_secret.as_bytes(),
        secret.as_bytes(),
    )
    .is_err()
    {
        return Err(ClientRefusal::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        ));
    }
    if method != app.token_endpoint_auth_method {
        return Err(ClientRefusal::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!(
                "Client authentication failed: this client authenticates with {}.",
                app.token_endpoint_auth_method.as_str()
            ),
        ));
    }
    Ok(app)
}

/// Why `/token` refused the client's credentials; becomes OAuth's error body.
struct ClientRefusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ClientRefusal {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, &self.description)
    }
}

/// `client_id:client_secret`, each form-urlencoded as RFC 6749 §2.3.1 asks, in base64.
pub(super) fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}
