//! The throwaway cluster behind test databases when `DATABASE_URL` is unset: a fresh directory
//! in /tmp and a watchdog that removes it when the test process ends.

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use uuid::Uuid;

use malipo::pg::Durability;
use malipo::pg::LocalCluster;

/// Waits for the test process ($1) to end, then stops the server found in the pid file ($3)
/// and deletes the directory ($2). SIGQUIT is PostgreSQL's immediate shutdown; it is sent
/// directly because `pg_ctl` would need the PostgreSQL OS user, which under root cannot signal
/// the test process it is waiting on. Hang-ups and Ctrl-C meant for the tests are ignored.
const WATCHDOG: &str = r#"
trap '' HUP INT TERM
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if [ -f "$3" ]; then
    pid=$(head -n 1 "$3")
    kill -QUIT "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$2"
"#;

/// Creates and starts a cluster in a new directory under /tmp. Blocking.
pub(super) fn create() -> anyhow::Result<LocalCluster> {
    // /tmp rather than $TMPDIR: short enough for the unix socket path, and reachable by the
    // PostgreSQL OS user when tests run as root.
    let dir = PathBuf::from(format!(
        "/tmp/malipo-test-{}-{}",
        std::process::id(),
        &Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("failed to create {}", dir.display()))?;
    // Before the cluster exists, so even a failed start is cleaned up.
    spawn_watchdog(&dir)?;
    start(&dir)
}

/// Starts (or restarts) the throwaway cluster in `dir`. Blocking.
pub(super) fn start(dir: &Path) -> anyhow::Result<LocalCluster> {
    LocalCluster::ensure_running_with(dir, Durability::Throwaway)
}

fn spawn_watchdog(dir: &Path) -> anyhow::Result<()> {
    Command::new("sh")
        .args(["-c", WATCHDOG, "malipo-test-watchdog"])
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(LocalCluster::postmaster_pid_file(dir))
        // Its own process group: Ctrl-C or a kill of the tests' group must not reach it, and
        // no inherited pipe may keep a caller like `cargo test | tee` waiting for it.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start the test cluster's watchdog")
        .map(drop)
}
