//! The server test databases are created on, set up once per test process: its admin URL, the
//! migrated template, and the throwaway cluster when there is one.

use std::time::Duration;

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::{Mutex, OnceCell};
use uuid::Uuid;

use super::{stale, throwaway, url};
use malipo::pg::LocalCluster;

/// PostgreSQL's `object_in_use`: the template still has a session, often one that is closing.
const OBJECT_IN_USE: &str = "55006";

/// How long to keep retrying a `CREATE DATABASE` blocked by a session on the template.
const TEMPLATE_BUSY_RETRIES: u32 = 100;
const TEMPLATE_BUSY_WAIT: Duration = Duration::from_millis(50);

/// Only statics survive across tests: each `#[tokio::test]` has its own runtime, and a pool
/// made in one runtime breaks when that runtime ends. Hence URLs here, connections per call.
static SERVER: OnceCell<Server> = OnceCell::const_new();

/// PostgreSQL refuses to copy a template while another copy is being made from it.
static TEMPLATE_USE: Mutex<()> = Mutex::const_new(());

/// The shared server of this test process. No `Debug`: the admin URL holds a password.
pub(super) struct Server {
    /// Admin URL; test database URLs are this with another database name.
    pub admin_url: String,
    /// The throwaway cluster, or `None` when `DATABASE_URL` is set.
    pub cluster: Option<LocalCluster>,
    /// The migrated database every test database is copied from.
    template: String,
}

/// The server, set up by the first caller.
pub(super) async fn get() -> anyhow::Result<&'static Server> {
    SERVER.get_or_try_init(set_up).await
}

async fn set_up() -> anyhow::Result<Server> {
    let (admin_url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let cluster = tokio::task::spawn_blocking(throwaway::create)
                .await
                .context("failed to join the cluster setup task")??;
            (cluster.database_url(), Some(cluster))
        }
    };
    let mut admin = connect(&admin_url).await?;
    if cluster.is_none() {
        // A shared server keeps what earlier runs created; a throwaway one starts empty.
        stale::drop_old_databases(&mut admin).await;
    }
    let template = format!("tpl_{}", Uuid::now_v7().simple());
    execute(&mut admin, &format!(r#"CREATE DATABASE "{template}""#)).await?;
    admin
        .close()
        .await
        .context("failed to close the admin connection")?;

    let mut conn = connect(&url::with_database(&admin_url, &template)).await?;
    malipo::db::MIGRATOR
        .run(&mut conn)
        .await
        .context("failed to migrate the test template database")?;
    conn.close()
        .await
        .context("failed to close the template connection")?;
    Ok(Server {
        admin_url,
        cluster,
        template,
    })
}

impl Server {
    /// Creates `t_<uuid>` from the template and returns its name. The uuid is v7, so its
    /// creation time can be read back by the clean-up of stale databases.
    pub(super) async fn create_database(&self) -> anyhow::Result<String> {
        let name = format!("t_{}", Uuid::now_v7().simple());
        let sql = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{}""#, self.template);
        let mut admin = connect(&self.admin_url).await?;
        let serialized = TEMPLATE_USE.lock().await;
        let mut attempt = 0;
        loop {
            match sqlx::query(AssertSqlSafe(sql.clone()))
                .execute(&mut admin)
                .await
            {
                Ok(_) => break,
                // Sessions on the template end asynchronously after their client closes.
                Err(e) if is_object_in_use(&e) && attempt < TEMPLATE_BUSY_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(TEMPLATE_BUSY_WAIT).await;
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("failed to create test database {name}"));
                }
            }
        }
        drop(serialized);
        admin
            .close()
            .await
            .context("failed to close the admin connection")?;
        Ok(name)
    }
}

fn is_object_in_use(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == OBJECT_IN_USE)
}

async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::connect(url)
        .await
        .context("failed to connect to the test PostgreSQL server")
}

async fn execute(conn: &mut PgConnection, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .with_context(|| format!("failed to run `{sql}`"))
        .map(drop)
}
