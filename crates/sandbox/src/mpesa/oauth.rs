//! Daraja OAuth (PROVIDERS.md §2.1): Basic auth in, a token out; each new token invalidates
//! the previous one, which is why clients must share one cached token per credential set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::{MpesaState, error};

pub(crate) async fn generate(
    State(state): State<Arc<MpesaState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let shared = &state.shared;
    if query.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error(
            shared,
            StatusCode::BAD_REQUEST,
            "400.008.02",
            "Invalid grant type passed",
        );
    }
    if !state.basic_auth_ok(&headers) {
        return error(
            shared,
            StatusCode::BAD_REQUEST,
            "400.008.01",
            "Invalid Authentication passed",
        );
    }
    let token = shared.random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        28,
    );
    state.store().token = Some((token.clone(), Instant::now()));
    let expires_in = state.settings.token_ttl.as_secs().saturating_sub(1);
    let expires_in = if shared.chance(state.settings.expires_in_string_probability) {
        Value::from(expires_in.to_string())
    } else {
        Value::from(expires_in)
    };
    (
        StatusCode::OK,
        Json(json!({"access_token": token, "expires_in": expires_in})),
    )
        .into_response()
}

impl MpesaState {
    fn basic_auth_ok(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let expected = format!(
            "{}:{}",
            self.settings.consumer_key, self.settings.consumer_secret
        );
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .is_ok_and(|decoded| decoded == expected.as_bytes())
    }

    /// Whether `token` is the latest one issued and has not expired.
    pub(crate) fn token_is_current(&self, token: &str) -> bool {
        self.store()
            .token
            .as_ref()
            .is_some_and(|(current, issued)| {
                current == token && issued.elapsed() < self.settings.token_ttl
            })
    }
}
