//! `LocalCluster`: creation, reuse while running, stop and restart with data intact, and two
//! processes' worth of concurrent starts.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use malipo::pg::LocalCluster;
use sqlx::{Connection, PgConnection};

/// A fresh directory whose server is killed and contents removed when the test ends, pass or
/// panic. The data directory is nested, so `ensure_running` has to create its parents.
struct ScratchDir {
    root: PathBuf,
    data: PathBuf,
}

impl ScratchDir {
    fn new(tag: &str) -> Self {
        let root = PathBuf::from(format!(
            "/tmp/malipo-{tag}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&root).unwrap();
        let data = root.join("state/pg");
        Self { root, data }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let pid_file = self.data.join("pgdata/postmaster.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<i32>().ok())
        {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
            for _ in 0..100 {
                if nix::sys::signal::kill(pid, None).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn ensure_running(dir: &Path) -> LocalCluster {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || LocalCluster::ensure_running(&dir))
        .await
        .unwrap()
        .unwrap()
}

async fn show(conn: &mut PgConnection, setting: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn cluster_is_created_reused_and_keeps_data_across_restarts() {
    let dir = ScratchDir::new("lifecycle");
    let first = ensure_running(&dir.data).await;
    assert!(first.started_by_us());
    let url = first.database_url();
    assert!(url.starts_with("postgres://malipo:"), "{first:?}");
    assert!(url.ends_with(&format!("@127.0.0.1:{}/malipo", first.port())));
    assert!(
        !format!("{first:?}").contains(&url),
        "Debug must not show the password"
    );

    let password = std::fs::metadata(dir.data.join("password")).unwrap();
    assert_eq!(password.permissions().mode() & 0o777, 0o600);
    if nix::unistd::geteuid().is_root() {
        let owner = std::fs::metadata(dir.data.join("pgdata")).unwrap().uid();
        assert_ne!(owner, 0, "PostgreSQL must not run as root");
    }

    let mut conn = PgConnection::connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    assert_eq!(show(&mut conn, "listen_addresses").await, "127.0.0.1");
    assert_eq!(show(&mut conn, "fsync").await, "on");
    assert_eq!(show(&mut conn, "max_connections").await, "200");
    assert_eq!(show(&mut conn, "server_encoding").await, "UTF8");
    sqlx::raw_sql("create table kept (v text); insert into kept values ('survives')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let again = ensure_running(&dir.data).await;
    assert!(!again.started_by_us(), "it was already running");
    assert_eq!(again.database_url(), url);

    first.stop().unwrap();
    assert!(PgConnection::connect(&url).await.is_err(), "server is down");

    let restarted = ensure_running(&dir.data).await;
    assert!(restarted.started_by_us());
    assert_eq!(restarted.database_url(), url, "same password and port");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let kept: String = sqlx::query_scalar("select v from kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "survives");
    conn.close().await.unwrap();
    restarted.stop().unwrap();
}

#[tokio::test]
async fn concurrent_first_starts_create_one_cluster() {
    let dir = ScratchDir::new("concurrent");
    let starts: Vec<_> = (0..2)
        .map(|_| {
            let dir = dir.data.clone();
            std::thread::spawn(move || LocalCluster::ensure_running(&dir))
        })
        .collect();
    let clusters: Vec<LocalCluster> = starts
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(clusters[0].database_url(), clusters[1].database_url());
    let started = clusters.iter().filter(|c| c.started_by_us()).count();
    assert_eq!(started, 1, "exactly one caller starts the server");

    let mut conn = PgConnection::connect(&clusters[0].database_url())
        .await
        .unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    clusters[0].stop().unwrap();
}
