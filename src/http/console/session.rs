//! Who is using the console: the `__Host-malipo_session` cookie looked up as a server-side
//! session ([`crate::db::console_sessions`]), and the checks every form post passes —
//! same-origin (`Sec-Fetch-Site`, or `Origin` matching `Host`), the session's CSRF token, and
//! for actions the operator role. A console request never reads an `Authorization` header.

use std::time::Duration;

use axum::{
    extract::{Form, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use rand::RngCore;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    clients::Role,
    db::console_sessions,
    http::{AppState, auth::hash_key, problem::ApiError},
    ops::Actor,
};

/// The session cookie. `__Host-` makes browsers insist on `Secure`, `Path=/` and no `Domain`.
pub const COOKIE: &str = "__Host-malipo_session";
/// A session unused for this long is over.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session is over this long after login, however busy.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// Sent by the page's own refresh script: a poll is not a person acting, so it does not reset
/// the idle clock.
pub const POLL_HEADER: &str = "x-console-poll";

/// A logged-in operator (or viewer).
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The operator key's client id.
    pub client_id: Uuid,
    /// The key's name.
    pub name: String,
    /// `Operator` or `Viewer`.
    pub role: Role,
    /// The token forms carry.
    pub csrf_token: String,
}

impl ConsoleSession {
    /// Whether this session may change things.
    pub fn can_act(&self) -> bool {
        self.role == Role::Operator
    }

    /// The audit actor: the operator key, as `/ops` records it.
    pub fn actor(&self) -> Actor {
        Actor::Key(self.client_id)
    }
}

/// Why a console request was not served.
#[derive(Debug)]
pub enum Refusal {
    /// No live session: the browser is sent to the login page.
    Login,
    /// Anything else, as problem+json.
    Error(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Error(error)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        Self::Error(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/console/login").into_response(),
            Self::Error(error) => error.into_response(),
        }
    }
}

/// The session token in the request's cookies, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

/// 32 random bytes as hex: session tokens and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The `Set-Cookie` value for a new session token.
pub fn cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        ABSOLUTE.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token(&parts.headers).ok_or(Refusal::Login)?;
        let touch = !parts.headers.contains_key(POLL_HEADER);
        let live = console_sessions::live(&state.pool, &hash_key(&token), IDLE, touch)
            .await?
            .ok_or(Refusal::Login)?;
        Ok(Self {
            client_id: live.client_id,
            name: live.name,
            role: live.role,
            csrf_token: live.csrf_token,
        })
    }
}

/// Refuses a form post that a browser says came from another site, or that names no origin
/// at all and has no `Origin` matching the `Host` it was sent to.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin") => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "cross-site form posts are refused (Sec-Fetch-Site is not same-origin)",
        )),
        None => {
            // Browsers before Sec-Fetch-Site still send Origin on a POST; compare its host
            // part with Host (the scheme is the TLS terminator's business).
            let host = text(header::HOST);
            let origin_host = text(header::ORIGIN)
                .and_then(|origin| origin.split_once("://"))
                .map(|(_, host)| host);
            match (origin_host, host) {
                (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(()),
                _ => Err(ApiError::Forbidden(
                    "form posts need Sec-Fetch-Site: same-origin or an Origin matching Host",
                )),
            }
        }
    }
}

/// A form post from a logged-in session that passed the same-origin and CSRF checks, with its
/// fields (the `csrf` field removed). Any role: viewing actions (an audited reveal, logout).
#[derive(Debug)]
pub struct Posted {
    /// Who posted.
    pub session: ConsoleSession,
    /// The session's token hash, for logout.
    pub token_hash: String,
    fields: Vec<(String, String)>,
}

impl Posted {
    /// The trimmed value of field `name`, if present and not empty.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // The origin check comes first: a cross-site post learns nothing, not even whether a
        // session exists.
        same_origin(request.headers())?;
        let (mut parts, body) = request.into_parts();
        let session = ConsoleSession::from_request_parts(&mut parts, state).await?;
        let token_hash = token(&parts.headers)
            .map(|t| hash_key(&t))
            .unwrap_or_default();
        let request = Request::from_parts(parts, body);
        let Form(fields): Form<Vec<(String, String)>> = Form::from_request(request, state)
            .await
            .map_err(|rejection| {
                ApiError::BadRequest(format!("unreadable form: {}", rejection.body_text()))
            })?;
        let sent = fields
            .iter()
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.as_bytes())
            .unwrap_or_default();
        let expected = session.csrf_token.as_bytes();
        if sent.is_empty() || !bool::from(sent.ct_eq(expected)) {
            return Err(ApiError::Forbidden("missing or wrong CSRF token; reload the page").into());
        }
        let fields = fields
            .into_iter()
            .filter(|(key, _)| key != "csrf")
            .collect();
        Ok(Self {
            session,
            token_hash,
            fields,
        })
    }
}

/// A [`Posted`] form from an operator (not a viewer): every console action that changes
/// something takes this.
#[derive(Debug)]
pub struct Action(pub Posted);

impl Action {
    /// The audit actor.
    pub fn actor(&self) -> Actor {
        self.0.session.actor()
    }

    /// The trimmed value of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0.field(name)
    }
}

impl FromRequest<AppState> for Action {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let posted = Posted::from_request(request, state).await?;
        if !posted.session.can_act() {
            return Err(ApiError::Forbidden("a read-only (viewer) key cannot act").into());
        }
        Ok(Self(posted))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-malipo_session=abc; b=2"),
        );
        assert_eq!(token(&headers).as_deref(), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("malipo_session=abc"),
        );
        assert_eq!(token(&headers), None);
    }

    #[test]
    fn posts_must_be_same_origin() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            same_origin(&headers)
        };
        assert!(with(&[("sec-fetch-site", "same-origin")]).is_ok());
        assert!(with(&[("sec-fetch-site", "cross-site")]).is_err());
        assert!(with(&[("sec-fetch-site", "same-site")]).is_err());
        assert!(with(&[("sec-fetch-site", "none")]).is_err());
        assert!(
            with(&[
                ("host", "ops.example:8080"),
                ("origin", "https://ops.example:8080")
            ])
            .is_ok()
        );
        assert!(with(&[("host", "ops.example"), ("origin", "https://evil.example")]).is_err());
        assert!(with(&[("host", "ops.example")]).is_err());
    }

    #[test]
    fn the_cookie_has_every_flag() {
        let cookie = cookie("t");
        for flag in [
            "__Host-malipo_session=t",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(cookie.contains(flag), "{cookie} lacks {flag}");
        }
    }
}
