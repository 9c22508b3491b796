//! Test support: a fresh, migrated database per test, on the server at `DATABASE_URL` or, when
//! that is unset, on a throwaway local cluster shared by the test process.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let db = malipo_testing::test_database().await?;
//! sqlx::query("select 1").execute(&db.pool).await?;
//! # Ok(())
//! # }
//! ```

mod app;
mod server;
mod stale;
mod throwaway;
mod url;

use std::time::Duration;

pub use app::{TestApp, TestAppBuilder, bench_runner, eventually, problem};

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;

/// Connections per test pool: enough for concurrent work inside one test, few enough that many
/// tests in parallel stay under the server's `max_connections` (200).
const POOL_SIZE: u32 = 10;

/// A database of its own for one test, created from the migrated template.
#[derive(Debug)]
pub struct TestDatabase {
    /// A small pool on the database.
    pub pool: sqlx::PgPool,
    /// Its URL, for code under test that connects by itself.
    pub url: String,
    /// Its name, `t_<uuid>`.
    pub name: String,
}

/// Creates a new database with every migration applied and nothing else in it.
///
/// Uses the server at `DATABASE_URL` when set (databases named `t_<uuid>` are created there and
/// dropped by a later run once an hour old); otherwise a throwaway cluster in `/tmp`, started on
/// first use and removed when the test process exits, however it exits.
pub async fn test_database() -> anyhow::Result<TestDatabase> {
    let server = server::get().await?;
    let name = server.create_database().await?;
    let url = url::with_database(&server.admin_url, &name);
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await
        .with_context(|| format!("failed to connect to test database {name}"))?;
    Ok(TestDatabase { pool, url, name })
}

/// The URL of the server the test databases live on, as its admin (the throwaway cluster's
/// superuser, or `DATABASE_URL` as given).
pub async fn admin_url() -> anyhow::Result<String> {
    Ok(server::get().await?.admin_url.clone())
}

/// Stops the throwaway cluster, waits `down_for`, and starts it again on the same port, to test
/// behaviour during a database outage.
///
/// This takes the database away from **every test in the process**, so outage tests belong in a
/// test binary of their own. Fails when `DATABASE_URL` is set: that server is not ours to stop.
pub async fn restart_cluster(down_for: Duration) -> anyhow::Result<()> {
    let server = server::get().await?;
    let cluster = server
        .cluster
        .as_ref()
        .context("failed to restart PostgreSQL: tests use the server at DATABASE_URL, which is not ours to stop")?;
    let port = cluster.port();
    let data_dir = cluster.data_dir().to_path_buf();

    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .context("failed to join the stop task")??;
    tokio::time::sleep(down_for).await;
    let restarted = tokio::task::spawn_blocking(move || throwaway::start(&data_dir))
        .await
        .context("failed to join the start task")??;
    anyhow::ensure!(
        restarted.port() == port,
        "restarted PostgreSQL came back on port {} instead of {port}, which was taken meanwhile",
        restarted.port()
    );
    Ok(())
}
