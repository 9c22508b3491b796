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

/// Short timeouts so "the provider never answered" tests run fast.
pub(crate) fn fast_http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_millis(300),
    }
}

/// Longer than [`fast_http`] waits.
pub(crate) const TOO_SLOW: Duration = Duration::from_millis(1500);
