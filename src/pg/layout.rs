//! The files of a malipo PostgreSQL data directory: the cluster itself, the superuser password,
//! the chosen port, the start/stop lock and the server log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Longest unix socket path the platforms we run on accept (`sun_path` minus the NUL).
const MAX_SOCKET_PATH: usize = 103;

/// Paths inside a data directory given to [`super::LocalCluster::ensure_running`].
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// `root` must be absolute: the paths are handed to processes with another working directory.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The PostgreSQL cluster (PGDATA). It exists only once fully created.
    pub(crate) fn cluster(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    /// Where initdb builds the cluster before it is renamed into place, so an interrupted
    /// creation never looks like a usable cluster.
    pub(crate) fn cluster_in_progress(&self) -> PathBuf {
        self.root.join("pgdata.init")
    }

    pub(crate) fn password(&self) -> PathBuf {
        self.root.join("password")
    }

    pub(crate) fn port(&self) -> PathBuf {
        self.root.join("port")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub(crate) fn log(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// The unix socket directory, unless `.s.PGSQL.<port>` there would exceed the socket path
    /// limit (deep data directories); TCP on 127.0.0.1 still works then.
    pub(crate) fn socket_dir(&self, port: u16) -> Option<&Path> {
        let socket = self.root.join(format!(".s.PGSQL.{port}.lock"));
        (socket.as_os_str().len() <= MAX_SOCKET_PATH).then_some(self.root.as_path())
    }
}

/// Holds the data directory's lock until dropped, so two malipo processes starting at once do
/// not both run initdb or both start the server.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Blocks until this process holds the exclusive lock on `path`.
pub(crate) fn lock(path: &Path) -> anyhow::Result<DirLock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("failed to open lock file {}", path.display()))?;
    file.lock()
        .with_context(|| format!("failed to lock {}", path.display()))?;
    Ok(DirLock { _file: file })
}

/// Writes `contents` to a file only its owner can read.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", path.display()))
}

/// Reads a one-line file, trimmed.
pub(crate) fn read_line(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Reads the persisted port.
pub(crate) fn read_port(path: &Path) -> anyhow::Result<u16> {
    let text = read_line(path)?;
    text.parse()
        .with_context(|| format!("failed to parse port {text:?} in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_is_skipped_when_the_path_is_too_long() {
        let short = Layout::new(PathBuf::from("/tmp/malipo"));
        assert_eq!(short.socket_dir(5432), Some(Path::new("/tmp/malipo")));
        let long = Layout::new(PathBuf::from(format!("/tmp/{}", "d".repeat(100))));
        assert_eq!(long.socket_dir(5432), None);
    }
}
