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
pub enum Durability {
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
    /// Whether the install ships `pg_stat_statements` (a contrib module some packagings split
    /// out): loaded when it does, so `malipo bench e2e` and the statement-budget test can count
    /// what a lifecycle sends, and an operator can see what the database spends its time on.
    pub statement_stats: bool,
}

/// Renders `malipo.conf`.
pub(crate) fn render(s: &Settings<'_>) -> String {
    let socket_dirs = s
        .socket_dir
        .map(|d| d.to_string_lossy())
        .unwrap_or_default();
    let safe = s.durability == Durability::Durable;
    let on_off = |on: bool| if on { "on" } else { "off" };
    // A durable commit waits for its WAL flush. With `commit_delay`, the backend about to
    // flush first sleeps 1 ms when at least five other backends are in a writing transaction
    // (`commit_siblings`' default), so its one fdatasync covers the commits that arrived
    // meanwhile: under `bench e2e` the fdatasyncs per lifecycle halved (8.3 to 4.3) and the
    // rate rose 1–2% (BENCHMARKS.md). A quiet server never sleeps; a throwaway cluster does
    // not flush at all.
    let commit_delay = if safe { 1000 } else { 0 };
    let preload = if s.statement_stats {
        // Room for a test run's many databases, so a counted run's statements are not evicted.
        "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 20000\n"
    } else {
        ""
    };
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
         full_page_writes = {safe}\n\
         commit_delay = {commit_delay}\n\
         {preload}",
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
            statement_stats: false,
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
        assert!(conf.contains("commit_delay = 1000\n"));
    }

    #[test]
    fn throwaway_cluster_skips_fsync() {
        let conf = settings(None, Durability::Throwaway);
        assert!(conf.contains("fsync = off\n"));
        assert!(conf.contains("synchronous_commit = off\n"));
        assert!(conf.contains("commit_delay = 0\n"));
    }

    #[test]
    fn statement_stats_are_loaded_only_when_the_install_has_them() {
        assert!(!settings(None, Durability::Durable).contains("shared_preload_libraries"));
        let conf = render(&Settings {
            port: 54321,
            socket_dir: None,
            durability: Durability::Throwaway,
            statement_stats: true,
        });
        assert!(conf.contains("shared_preload_libraries = 'pg_stat_statements'\n"));
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
