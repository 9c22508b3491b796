//! The HTTP front on a loopback port for the duration of a benchmark, assembled by
//! [`Application::build`] as `malipo serve` assembles it.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    http::AppState,
    settings::Settings,
    startup::{Application, Database, Running},
};

/// A bound loopback port, not yet serving (its URL may be needed to build the settings).
pub struct Port {
    listener: TcpListener,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

/// The front serving on a [`Port`] until [`Front::stop`].
pub struct Front(Running);

impl Port {
    /// Binds 127.0.0.1:0.
    pub async fn bind() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind a loopback port")?;
        let base = format!("http://{}", listener.local_addr()?);
        Ok(Self { listener, base })
    }

    /// Serves the real router of an application built from `settings` over the benchmark's
    /// `pool`, after `adjust` edits the front's state (a benchmark of the front alone lets
    /// every provider through, or sets its own webhook secrets).
    pub async fn serve(
        self,
        pool: &PgPool,
        settings: Settings,
        adjust: impl FnOnce(&mut AppState),
    ) -> anyhow::Result<Front> {
        let database = Database::borrowed(pool.clone());
        let mut application = Application::build(settings, database, Some(self.listener)).await?;
        adjust(&mut application.front);
        Ok(Front(application.start(false).await?))
    }
}

impl Front {
    /// Shuts the front down gracefully (bounded).
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.0.until(async {})).await;
    }
}

/// Settings with every variable unset but the process configuration `config`.
pub fn settings_with(config: &crate::config::Config) -> anyhow::Result<Settings> {
    let mut settings = Settings::from_lookup(|_| None)?;
    settings.app = config.clone();
    Ok(settings)
}
