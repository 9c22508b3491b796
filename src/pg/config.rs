//! The settings file (`malipo.conf`) that the cluster's `postgresql.conf` includes, rewritten on
//! every start so a changed port or socket directory takes effect.

use std::path::Path;

/// The file name, relative to the cluster directory, that `postgresql.conf` includes.
pub(crate) const FILE_NAME: &str = "malipo.conf";

/// The line appended to `postgresql.conf` once, at creation.
pub(crate) const INCLUDE_LINE: &str =
    "\n# Local settings managed by malipo.\ninclude 'malipo.conf'\n";

/// How much the cluster's data matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Payment data: every commit reaches the disk.
    Durable,
    /// A cluster deleted when the test process ends: a crash can lose nothing of value, so
    /// skipping fsync makes the many `CREATE DATABASE`s of a test run cheap.
    Throwaway,
}

/// What varies between starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Where the unix socket goes; `None` when the path would be too long for a socket.
    pub socket_dir: Option<&'a Path>,
    /// Whether fsync and friends stay on.
    pub durability: Durability,
}

/// Renders `malipo.conf`.
pub(crate) fn render(s: &Settings<'_>) -> String {
    let socket_dirs = s
        .socket_dir
        .map(|d| d.to_string_lossy())
        .unwrap_or_default();
    let safe = s.durability == Durability::Durable;
    let on_off = |on: bool| if on { "on" } else { "off" };
    format!(
        "# Written by malipo before every start; edits here are overwritten.\n\
         # Use ALTER SYSTEM (postgresql.auto.conf) for lasting changes.\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{sockets}'\n\
         unix_socket_permissions = 0700\n\
         max_connections = 200\n\
         shared_buffers = 128MB\n\
         fsync = {safe}\n\
         synchronous_commit = {safe}\n\
         full_page_writes = {safe}\n",
        port = s.port,
        sockets = quote(&socket_dirs),
        safe = on_off(safe),
    )
}

/// Escapes a value for a single-quoted postgresql.conf string.
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "''")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(socket_dir: Option<&Path>, durability: Durability) -> String {
        render(&Settings {
            port: 54321,
            socket_dir,
            durability,
        })
    }

    #[test]
    fn durable_cluster_listens_on_loopback_only_and_keeps_fsync() {
        let conf = settings(Some(Path::new("/var/lib/malipo/pg")), Durability::Durable);
        assert!(conf.contains("listen_addresses = '127.0.0.1'\n"));
        assert!(conf.contains("port = 54321\n"));
        assert!(conf.contains("unix_socket_directories = '/var/lib/malipo/pg'\n"));
        assert!(conf.contains("max_connections = 200\n"));
        assert!(conf.contains("shared_buffers = 128MB\n"));
        assert!(conf.contains("fsync = on\n"));
        assert!(conf.contains("synchronous_commit = on\n"));
        assert!(conf.contains("full_page_writes = on\n"));
    }

    #[test]
    fn throwaway_cluster_skips_fsync() {
        let conf = settings(None, Durability::Throwaway);
        assert!(conf.contains("fsync = off\n"));
        assert!(conf.contains("synchronous_commit = off\n"));
    }

    #[test]
    fn missing_socket_dir_disables_the_socket() {
        let conf = settings(None, Durability::Durable);
        assert!(conf.contains("unix_socket_directories = ''\n"));
    }

    #[test]
    fn quotes_in_paths_are_escaped() {
        let conf = settings(Some(Path::new("/home/o'brien/pg")), Durability::Durable);
        assert!(conf.contains("unix_socket_directories = '/home/o''brien/pg'\n"));
    }
}
