//! Logging in with an operator (or viewer) key once, and out. The key is typed into a form,
//! never kept by the browser: the answer is a server-side session in an HttpOnly cookie.

use axum::{
    Form,
    extract::{ConnectInfo, State, rejection::FormRejection},
    http::{Extensions, HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use std::net::SocketAddr;

use super::{
    layout::document,
    session::{self, Posted},
};
use crate::{
    clients::Role,
    db::console_sessions,
    http::{AppState, auth::hash_key, problem::ApiError},
};

/// `GET /console/login`: the form.
pub async fn form() -> Markup {
    page(None)
}

fn page(error: Option<&str>) -> Markup {
    document(
        "Log in",
        html! {
            main.login id="main" {
                h1 { "malipo console" }
                @if let Some(error) = error {
                    p.notice.error role="alert" { (error) }
                }
                form.stack method="post" action="/console/login" {
                    label for="key" { "Operator key"
                        input id="key" name="key" type="password" autocomplete="off" required autofocus;
                    }
                    button.primary type="submit" { "Log in" }
                }
                p.muted { "An operator key may act; a viewer key may only look. Client keys cannot log in." }
            }
        },
    )
}

/// The login form's field.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    key: String,
}

/// `POST /console/login`: an operator or viewer key starts a session; anything else is
/// refused, failed attempts bounded per address as for API keys.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    session::same_origin(&headers)?;
    let Form(form) = form.map_err(|rejection| {
        ApiError::BadRequest(format!("unreadable login form: {}", rejection.body_text()))
    })?;
    let key = form.key.trim();
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let key_hash = hash_key(key);
    state.failed_auth.before_lookup(peer, &key_hash)?;
    let owner = if key.is_empty() {
        None
    } else {
        console_sessions::key_owner(&state.pool, &key_hash).await?
    };
    let Some((client_id, name, role)) = owner else {
        let _counted = state.failed_auth.unknown(peer, key_hash);
        return Ok(refused(StatusCode::UNAUTHORIZED, "That key is not valid."));
    };
    if role == Role::Client {
        tracing::warn!(client = %client_id, "a client key tried to log in to the console");
        return Ok(refused(
            StatusCode::FORBIDDEN,
            "Client keys cannot log in to the console; use an operator or viewer key.",
        ));
    }
    state.failed_auth.valid(key_hash);
    console_sessions::prune(&state.pool).await?;
    let token = session::random_token();
    console_sessions::create(
        &state.pool,
        &hash_key(&token),
        client_id,
        &session::random_token(),
        session::ABSOLUTE,
    )
    .await?;
    tracing::info!(client = %client_id, name, "console login");
    Ok(with_cookie(
        Redirect::to("/console").into_response(),
        &session::cookie(&token),
    ))
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, page(Some(message))).into_response()
}

/// `POST /console/logout`: ends the session and removes the cookie.
pub async fn logout(State(state): State<AppState>, posted: Posted) -> Result<Response, ApiError> {
    console_sessions::end(&state.pool, &posted.token_hash).await?;
    Ok(with_cookie(
        Redirect::to("/console/login").into_response(),
        &session::cleared_cookie(),
    ))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
