//! Request hygiene before any route: a bounded request target and header block, absolute-form
//! targets that must name the `Host` they are sent to, and security headers on every answer.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::problem::ApiError;

/// Longest request target (path and query) served; longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of header fields (names, values and separators) served; more is a 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses oversized or misdirected requests with a problem, and secures every answer.
pub async fn enforce(request: Request, next: Next) -> Response {
    let private = is_private(request.uri().path());
    let mut response = match check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    secure(response.headers_mut(), private);
    response
}

/// `response` with the headers every answer carries, for answers made outside the router.
pub fn secured(mut response: Response, path: &str) -> Response {
    secure(response.headers_mut(), is_private(path));
    response
}

fn check(uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(MAX_URI_BYTES));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "{} KiB",
            MAX_HEADER_BYTES / 1024
        )));
    }
    // An absolute-form target (`GET http://host/path`) is meant for a proxy. malipo is none:
    // it serves such a request only when the target names the very `Host` it was sent to.
    if let Some(authority) = uri.authority() {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok());
        if !host.is_some_and(|host| host.eq_ignore_ascii_case(authority.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "the request target names host `{authority}`, which is not the Host it was sent to; \
                 malipo is not a proxy"
            )));
        }
    }
    Ok(())
}

/// Client and operator answers hold account data no cache should keep.
fn is_private(path: &str) -> bool {
    ["/v1/", "/ops/", "/metrics/"]
        .iter()
        .any(|prefix| path == prefix.trim_end_matches('/') || path.starts_with(prefix))
}

fn secure(headers: &mut HeaderMap, private: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // Nothing names the server or its version.
    headers.remove(header::SERVER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_paths_are_the_api_and_operations() {
        for path in ["/v1/intents", "/ops", "/ops/jobs", "/metrics"] {
            assert!(is_private(path), "{path}");
        }
        for path in ["/healthz", "/readyz", "/openapi.json", "/v1x", "/opsx"] {
            assert!(!is_private(path), "{path}");
        }
    }

    #[test]
    fn absolute_targets_must_name_their_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let own: Uri = "http://127.0.0.1:8080/healthz".parse().expect("uri");
        let foreign: Uri = "http://evil.example/healthz".parse().expect("uri");
        assert!(check(&own, &headers).is_ok());
        assert!(matches!(
            check(&foreign, &headers),
            Err(ApiError::BadRequest(_))
        ));
        assert!(check(&"/healthz".parse().expect("uri"), &headers).is_ok());
    }
}
