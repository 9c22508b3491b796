//! Finding the PostgreSQL server binaries: PATH, then `pg_config --bindir`, then the newest
//! versioned install directory (Debian's `/usr/lib/postgresql/<v>/bin`, Homebrew's kegs).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The error shown when no directory holds all three server binaries.
pub const NOT_FOUND: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; \
    install them (Debian/Ubuntu: `apt-get install postgresql`, macOS: `brew install postgresql@16`) \
    or set DATABASE_URL to an existing database";

/// Parent directories holding one versioned install per entry, as (parent, entry prefix, path
/// inside the entry). Homebrew's `postgresql@16` is keg-only, so it is never on PATH.
const VERSIONED_ROOTS: [(&str, &str, &str); 3] = [
    ("/usr/lib/postgresql", "", "bin"),
    ("/opt/homebrew/opt", "postgresql@", "bin"),
    ("/usr/local/opt", "postgresql@", "bin"),
];

/// The three server programs malipo drives, all from one directory so their versions match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub bin_dir: PathBuf,
}

impl PgBinaries {
    /// Looks on PATH, then asks `pg_config --bindir`, then tries the versioned install
    /// directories newest first; fails with [`NOT_FOUND`].
    pub fn discover() -> anyhow::Result<Self> {
        let on_path = path_dirs(std::env::var_os("PATH").as_deref());
        // pg_config is only spawned when PATH had nothing, and the install roots only read then.
        let candidates = on_path
            .into_iter()
            .chain(std::iter::once_with(pg_config_bindir).flatten())
            .chain(std::iter::once_with(versioned_dirs).flatten());
        first_complete(candidates, has_server_binaries)
            .map(|bin_dir| Self { bin_dir })
            .ok_or_else(|| anyhow::anyhow!(NOT_FOUND))
    }

    /// `initdb`.
    pub fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    /// `pg_ctl`.
    pub fn pg_ctl(&self) -> PathBuf {
        self.bin_dir.join("pg_ctl")
    }

    /// `postgres`.
    pub fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }

    /// Whether the server can load the module `name` (`<name>.so` beside the real binary —
    /// PATH often holds symlinks — in Debian's `../lib` or Homebrew's `../lib/postgresql`).
    pub fn has_library(&self, name: &str) -> bool {
        let Ok(server) = std::fs::canonicalize(self.postgres()) else {
            return false;
        };
        let Some(install) = server.parent().and_then(Path::parent) else {
            return false;
        };
        ["lib", "lib/postgresql"]
            .iter()
            .any(|dir| install.join(dir).join(format!("{name}.so")).is_file())
    }
}

/// The first candidate directory that `complete` accepts, in the order given.
fn first_complete(
    candidates: impl IntoIterator<Item = PathBuf>,
    complete: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    candidates.into_iter().find(|dir| complete(dir))
}

/// PATH's directories in order; empty entries (meaning the current directory) are skipped.
fn path_dirs(path: Option<&OsStr>) -> Vec<PathBuf> {
    path.map(|p| {
        std::env::split_paths(p)
            .filter(|d| !d.as_os_str().is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn versioned_dirs() -> Vec<PathBuf> {
    VERSIONED_ROOTS
        .iter()
        .flat_map(|(root, prefix, sub)| {
            let names = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok());
            newest_first(names, prefix)
                .into_iter()
                .map(move |name| Path::new(root).join(name).join(sub))
        })
        .collect()
}

/// Entry names that are `prefix` + a version, highest version first (so 16 beats 9.6).
fn newest_first(names: impl IntoIterator<Item = String>, prefix: &str) -> Vec<String> {
    let mut versioned: Vec<(Vec<u32>, String)> = names
        .into_iter()
        .filter_map(|name| {
            let version = parse_version(name.strip_prefix(prefix)?)?;
            Some((version, name))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    versioned.into_iter().map(|(_, name)| name).collect()
}

fn parse_version(s: &str) -> Option<Vec<u32>> {
    s.split('.').map(|part| part.parse().ok()).collect()
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn newest_version_comes_first_numerically() {
        let names = strings(&["9.6", "16", "10", "common", "15"]);
        assert_eq!(newest_first(names, ""), strings(&["16", "15", "10", "9.6"]));
    }

    #[test]
    fn homebrew_prefix_is_stripped_and_other_formulae_ignored() {
        let names = strings(&["postgresql@14", "postgresql@17", "postgis", "postgresql"]);
        assert_eq!(
            newest_first(names, "postgresql@"),
            strings(&["postgresql@17", "postgresql@14"])
        );
    }

    #[test]
    fn path_order_is_kept_and_empty_entries_skipped() {
        let dirs = path_dirs(Some(OsStr::new("/a::/b:/c")));
        assert_eq!(dirs, ["/a", "/b", "/c"].map(PathBuf::from));
        assert!(path_dirs(None).is_empty());
    }

    #[test]
    fn first_complete_directory_wins_in_candidate_order() {
        let candidates = [
            "/path/only-psql",
            "/path/full",
            "/usr/lib/postgresql/16/bin",
        ]
        .map(PathBuf::from);
        let complete = |d: &Path| d != Path::new("/path/only-psql");
        assert_eq!(
            first_complete(candidates, complete),
            Some(PathBuf::from("/path/full"))
        );
        assert_eq!(first_complete(Vec::new(), complete), None);
    }

    #[test]
    fn discovery_reads_real_directories() {
        let dir = std::env::temp_dir().join(format!("malipo-bin-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["initdb", "pg_ctl"] {
            let p = dir.join(name);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert!(!has_server_binaries(&dir), "postgres is missing");
        let p = dir.join("postgres");
        std::fs::write(&p, "").unwrap();
        assert!(!has_server_binaries(&dir), "postgres is not executable");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(has_server_binaries(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
