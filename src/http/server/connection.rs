//! One connection of the HTTP front: HTTP/1.1 with a header-read timeout, a keep-alive idle
//! timeout, the peer address for handlers, and a 505 problem for an HTTP/2 preface.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use axum::{
    Router,
    extract::ConnectInfo,
    http::Request,
    response::{IntoResponse, Response},
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpStream, sync::watch};
use tower::ServiceExt;

use super::{Admission, Lane, guard::Guarded};
use crate::{
    config::FrontLimits,
    http::{hygiene, problem::ApiError},
};

/// Header fields parsed per request; more is a 431 (answered as problem+json by [`Guarded`]).
pub const MAX_HEADERS: usize = 100;

/// A connection admitted beyond the cap gets at most this long to send its one request.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `stream` until it closes, times out, or the server stops (open requests finish).
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    admission: Admission,
    limits: Arc<FrontLimits>,
    mut stopping: watch::Receiver<bool>,
) {
    // Answers are small and written whole; Nagle would only delay them.
    let _ = stream.set_nodelay(true);
    let overflow = admission.lane == Lane::Overflow;
    let mut io = Guarded::new(stream, limits.keep_alive_timeout);
    let dispatched = io.dispatched();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        dispatched.fetch_add(1, Ordering::Relaxed);
        // Handlers read the peer (the M-Pesa allow-list, the failed-authentication limit).
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let path = request.uri().path();
            if overflow && !is_health_check(path) {
                let refused = hygiene::secured(ApiError::Overloaded.into_response(), path);
                return Ok::<Response, Infallible>(refused);
            }
            router.oneshot(request).await
        }
    });
    let header_read_timeout = if overflow {
        limits.header_read_timeout.min(OVERFLOW_HEADER_TIMEOUT)
    } else {
        limits.header_read_timeout
    };
    let result = {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_headers(MAX_HEADERS)
            .keep_alive(!overflow);
        let connection = builder.serve_connection(TokioIo::new(&mut io), service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            () = async {
                // The guard `wait_for` returns must not live across the graceful await.
                let _ = stopping.wait_for(|stop| *stop).await;
            } => {
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        }
    };
    if let Err(error) = result {
        if error.is_parse_version_h2() {
            // hyper closes an HTTP/2 preface without a word; say why, in HTTP/1.1.
            io.answer_directly(&ApiError::HttpVersionNotSupported).await;
        } else {
            tracing::debug!(%error, %peer, "connection ended with an error");
        }
    }
    drop(admission);
}

fn is_health_check(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}
