//! The HTTP front's accept loop: a cap on connections served at once, a small overflow that
//! still answers health checks, and graceful shutdown. Each connection is served by
//! [`connection`] with the header-read and keep-alive timeouts.

mod connection;
mod guard;

use std::{future::Future, io, sync::Arc, time::Duration};

use axum::Router;
use tokio::{
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};

use crate::config::FrontLimits;

/// How a connection was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Within `MALIPO_MAX_CONNECTIONS`: served normally.
    Normal,
    /// Beyond the cap, within the overflow: one request, health checks only (others 503).
    Overflow,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Overflow => "overflow",
        }
    }
}

/// A connection's place: its lane, and the permit it gives back when it ends.
struct Admission {
    lane: Lane,
    _permit: OwnedSemaphorePermit,
}

/// After an accept error such as EMFILE the listener stays readable; pausing keeps the loop
/// from spinning while connections close and free descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: FrontLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let normal = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(limits.overflow_connections));
    let limits = Arc::new(limits);
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_per_connection(&error) => continue,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Some(admission) = admit(&normal, &overflow) else {
            // Beyond the cap and the overflow: closing at once is cheaper for everyone than a
            // queue the kernel would keep for a client that may never speak.
            metrics::counter!("malipo_http_connections_total", "lane" => "refused").increment(1);
            drop(stream);
            continue;
        };
        metrics::counter!("malipo_http_connections_total", "lane" => admission.lane.name())
            .increment(1);
        tokio::spawn(connection::serve(
            stream,
            peer,
            router.clone(),
            admission,
            limits.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends: having them all back means all are done.
    let _ = normal.acquire_many(permits(limits.max_connections)).await;
    let _ = overflow
        .acquire_many(permits(limits.overflow_connections))
        .await;
    Ok(())
}

fn admit(normal: &Arc<Semaphore>, overflow: &Arc<Semaphore>) -> Option<Admission> {
    if let Ok(permit) = normal.clone().try_acquire_owned() {
        return Some(Admission {
            lane: Lane::Normal,
            _permit: permit,
        });
    }
    overflow
        .clone()
        .try_acquire_owned()
        .ok()
        .map(|permit| Admission {
            lane: Lane::Overflow,
            _permit: permit,
        })
}

fn permits(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Errors about one incoming connection (it was reset before we took it), not the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
