//! The HTTP front on a loopback port for the duration of a benchmark.

use std::time::Duration;

use anyhow::Context;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{http::AppState, startup};

/// A bound loopback port, not yet serving (its URL may be needed to build the state).
pub struct Port {
    listener: TcpListener,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

/// The front serving on a [`Port`] until [`Front::stop`].
pub struct Front {
    stop: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Port {
    /// Binds 127.0.0.1:0.
    pub async fn bind() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind a loopback port")?;
        let base = format!("http://{}", listener.local_addr()?);
        Ok(Self { listener, base })
    }

    /// Serves the real router with `state`.
    pub fn serve(self, state: AppState) -> Front {
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(startup::serve(self.listener, state, async move {
            let _ = stopped.await;
        }));
        Front { stop, server }
    }
}

impl Front {
    /// Shuts the front down gracefully (bounded).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}
