//! `LocalCluster`: create-or-reuse, start-if-stopped and stop for malipo's private PostgreSQL.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::binaries::PgBinaries;
use super::config::Durability;
use super::control::Control;
use super::init::{self, DATABASE, SUPERUSER};
use super::layout::{self, Layout};
use super::os_user::RunAs;

/// A PostgreSQL cluster in a directory of its own, listening on 127.0.0.1 only, used when
/// `DATABASE_URL` is unset.
///
/// The directory holds the cluster (`pgdata/`), the superuser password (`password`, mode 0600),
/// the port (`port`), the server log (`server.log`), a lock file and the unix socket.
pub struct LocalCluster {
    layout: Layout,
    bins: PgBinaries,
    run_as: RunAs,
    port: u16,
    password: String,
    started_by_us: bool,
}

impl LocalCluster {
    /// Creates the cluster in `data_dir` on first use, or reuses it, and starts it unless it is
    /// already running. Blocks (initdb takes seconds): call it from `spawn_blocking` in async
    /// code. Safe to call from several processes at once.
    pub fn ensure_running(data_dir: &Path) -> anyhow::Result<Self> {
        Self::ensure_running_with(data_dir, Durability::Durable)
    }

    pub fn ensure_running_with(data_dir: &Path, durability: Durability) -> anyhow::Result<Self> {
        // First, so a machine without PostgreSQL gets the install hint and no stray directory.
        let bins = PgBinaries::discover()?;
        let root = std::path::absolute(data_dir)
            .with_context(|| format!("failed to resolve {}", data_dir.display()))?;
        create_private_dir(&root)?;
        let layout = Layout::new(root);
        // Held until the server is up, so a concurrent caller waits and then finds it running
        // instead of running initdb or pg_ctl start a second time.
        let lock = layout::lock(&layout.lock())?;

        let run_as = RunAs::for_cluster(&layout.cluster())?;
        run_as.check_reachable(layout.root())?;
        // The server writes its socket, log and (while creating) the cluster here.
        run_as.give(layout.root())?;

        if !layout.cluster().exists() {
            init::create(&layout, &bins, &run_as)?;
        }
        let control = Control {
            layout: &layout,
            bins: &bins,
            run_as: &run_as,
        };
        let (port, started_by_us) = if control.is_running()? {
            (layout::read_port(&layout.port())?, false)
        } else {
            (control.start(durability)?, true)
        };
        let password = layout::read_line(&layout.password())?;
        drop(lock);
        Ok(Self {
            layout,
            bins,
            run_as,
            port,
            password,
            started_by_us,
        })
    }

    /// `postgres://malipo:<password>@127.0.0.1:<port>/malipo`.
    pub fn database_url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database on this cluster, as the superuser.
    pub(crate) fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Whether this call started the server (false when it was already running), so a caller
    /// can stop only what it started.
    pub fn started_by_us(&self) -> bool {
        self.started_by_us
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory given to [`Self::ensure_running`], made absolute.
    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// Stops the server (`pg_ctl stop -m fast -w`): open sessions are disconnected and their
    /// transactions rolled back.
    pub fn stop(&self) -> anyhow::Result<()> {
        let _lock = layout::lock(&self.layout.lock())?;
        Control {
            layout: &self.layout,
            bins: &self.bins,
            run_as: &self.run_as,
        }
        .stop()
    }

    /// Crashes the server (`pg_ctl stop -m immediate -w`): no checkpoint, no clean shutdown;
    /// [`Self::ensure_running`] afterwards goes through crash recovery. For crash tests on a
    /// cluster whose commits are durable (fsync on), which is what [`Self::ensure_running`]
    /// creates.
    pub fn crash(&self) -> anyhow::Result<()> {
        let _lock = layout::lock(&self.layout.lock())?;
        Control {
            layout: &self.layout,
            bins: &self.bins,
            run_as: &self.run_as,
        }
        .stop_immediately()
    }

    /// The postmaster's pid file, for a watchdog that must stop the server without us.
    pub fn postmaster_pid_file(data_dir: &Path) -> PathBuf {
        Layout::new(data_dir.to_path_buf())
            .cluster()
            .join("postmaster.pid")
    }
}

/// Creates `dir` with mode 0700. Missing parents get the default mode: making them 0700 too
/// would lock the PostgreSQL OS user out of them when we run as root.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("failed to create {}", dir.display()))
        }
        _ => Ok(()),
    }
}

// Manual so the password never reaches a log line.
impl fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCluster")
            .field("data_dir", &self.layout.root())
            .field("port", &self.port)
            .field("started_by_us", &self.started_by_us)
            .finish_non_exhaustive()
    }
}
