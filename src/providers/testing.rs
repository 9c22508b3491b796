//! Test helpers: canned provider answers from an axum server on loopback.

use std::time::Duration;

use axum::Router;

use super::HttpSettings;

/// Serves `router` on 127.0.0.1 at a free port and returns its base URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    format!("http://{address}")
}

/// A base URL where nothing listens: connections are refused.
pub(crate) async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}")
}

/// Timeouts short enough that "the provider never answered" tests run in seconds, long
/// enough that a success path on a loaded machine (two cores shared with other test binaries)
/// never times out by accident: 300 ms did once.
pub(crate) fn fast_http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
    }
}

/// Longer than [`fast_http`] waits, with headroom: a stand-in holding its answer this long is
/// always past the client's read timeout.
pub(crate) const TOO_SLOW: Duration = Duration::from_secs(4);
