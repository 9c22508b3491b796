//! Which OS user runs `initdb` and `pg_ctl`: ourselves, or under root (which PostgreSQL refuses)
//! an unprivileged account that owns the cluster.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use nix::unistd::{Gid, Group, Uid, User, geteuid};

/// Used when the machine has no `postgres` account.
const FALLBACK_USER: &str = "malipo-pg";

/// The account PostgreSQL commands run as.
#[derive(Debug, Clone)]
pub(crate) enum RunAs {
    /// Our own user (not root): no switching needed.
    Current,
    /// An unprivileged account we switch to because we are root.
    Account {
        name: String,
        uid: Uid,
        gid: Gid,
        home: PathBuf,
    },
}

impl RunAs {
    /// Picks the account for the cluster at `cluster_dir`: ourselves unless we are root; under
    /// root the owner of an existing cluster, else `postgres`, else a created `malipo-pg`.
    pub(crate) fn for_cluster(cluster_dir: &Path) -> anyhow::Result<Self> {
        if !geteuid().is_root() {
            return Ok(Self::Current);
        }
        // A cluster must always be run by the account that created it.
        if let Ok(meta) = std::fs::metadata(cluster_dir) {
            let owner = Uid::from_raw(meta.uid());
            if !owner.is_root() {
                let user = User::from_uid(owner)
                    .context("failed to look up the cluster's owner")?
                    .with_context(|| {
                        format!("{} is owned by unknown uid {owner}", cluster_dir.display())
                    })?;
                return Ok(Self::from_user(user));
            }
        }
        let user = match lookup("postgres")? {
            Some(user) => user,
            None => create_fallback_user()?,
        };
        Ok(Self::from_user(user))
    }

    fn from_user(user: User) -> Self {
        Self::Account {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
        }
    }

    /// A command for `program` that runs as this account, from `cwd` (the child cannot always
    /// read our working directory, and PostgreSQL tools fail when they cannot).
    pub(crate) fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd);
        if let Self::Account {
            name,
            uid,
            gid,
            home,
        } = self
        {
            // std drops root's supplementary groups itself when switching uid.
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
            let home = if home.is_dir() { home.as_path() } else { cwd };
            cmd.env("HOME", home).env("USER", name).env("LOGNAME", name);
        }
        cmd
    }

    /// Gives `path` to this account (no-op when running as ourselves).
    pub(crate) fn give(&self, path: &Path) -> anyhow::Result<()> {
        if let Self::Account { uid, gid, .. } = self {
            std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw())).with_context(
                || format!("failed to chown {} to the PostgreSQL user", path.display()),
            )?;
        }
        Ok(())
    }

    /// Checks that this account can reach `dir` through every parent directory, naming the
    /// first one that blocks it (e.g. a cluster under `/root`).
    pub(crate) fn check_reachable(&self, dir: &Path) -> anyhow::Result<()> {
        let Self::Account { name, uid, gid, .. } = self else {
            return Ok(());
        };
        for parent in dir.ancestors().skip(1) {
            let meta = std::fs::metadata(parent)
                .with_context(|| format!("failed to stat {}", parent.display()))?;
            if !can_search(&meta, name, *uid, *gid) {
                bail!(
                    "PostgreSQL runs as user `{name}` (it refuses to run as root), but `{name}` cannot \
                     enter {}; put the data directory elsewhere (e.g. under /var/lib or /tmp) or run \
                     `chmod o+x {}`",
                    parent.display(),
                    parent.display()
                );
            }
        }
        Ok(())
    }
}

fn lookup(name: &str) -> anyhow::Result<Option<User>> {
    User::from_name(name).with_context(|| format!("failed to look up user {name}"))
}

fn create_fallback_user() -> anyhow::Result<User> {
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ])
        .output();
    // Another malipo process may have created it in the meantime, so look again either way.
    if let Some(user) = lookup(FALLBACK_USER)? {
        return Ok(user);
    }
    let detail = match out {
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    bail!(
        "failed to create user {FALLBACK_USER} for PostgreSQL, which refuses to run as root \
         (useradd: {detail}); create it, or run malipo as a non-root user"
    )
}

/// Whether the account may enter a directory with these permissions. Unix uses exactly one of
/// the owner, group or other bits: the first class the account falls in.
fn can_search(meta: &std::fs::Metadata, name: &str, uid: Uid, gid: Gid) -> bool {
    let mode = meta.mode();
    if meta.uid() == uid.as_raw() {
        return mode & 0o100 != 0;
    }
    let dir_gid = Gid::from_raw(meta.gid());
    if dir_gid == gid || is_listed_member(dir_gid, name) {
        return mode & 0o010 != 0;
    }
    mode & 0o001 != 0
}

fn is_listed_member(gid: Gid, name: &str) -> bool {
    matches!(Group::from_gid(gid), Ok(Some(group)) if group.mem.iter().any(|m| m == name))
}
