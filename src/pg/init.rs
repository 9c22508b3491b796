//! Creating a cluster on first use: a random superuser password, `initdb`, the `malipo`
//! database, and the include line for malipo's settings.

use std::io::Write;

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};

use super::binaries::PgBinaries;
use super::config;
use super::exec::run;
use super::layout::{Layout, write_private};
use super::os_user::RunAs;

/// The superuser and the database malipo uses.
pub(crate) const SUPERUSER: &str = "malipo";
pub(crate) const DATABASE: &str = "malipo";

/// Creates the cluster at `layout.cluster()`. Work happens in a side directory that is renamed
/// into place only when complete, so a crash half-way is retried from scratch next time.
pub(crate) fn create(layout: &Layout, bins: &PgBinaries, run_as: &RunAs) -> anyhow::Result<()> {
    let staging = layout.cluster_in_progress();
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("failed to remove the half-created {}", staging.display()))?;
    }

    // Alphanumeric keeps the password usable in a URL without escaping.
    let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
    let password_file = layout.password();
    write_private(&password_file, &password)?;
    run_as.give(&password_file)?;

    tracing::info!(dir = %layout.cluster().display(), "creating a local PostgreSQL cluster");
    let mut initdb = run_as.command(&bins.initdb(), layout.root());
    initdb
        .arg("--pgdata")
        .arg(&staging)
        .args(["--username", SUPERUSER, "--encoding=UTF8", "--locale=C"])
        .args(["--auth-local=scram-sha-256", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", password_file.display()));
    run(initdb, None, "create the PostgreSQL cluster (initdb)")?;

    // Single-user mode creates the database without a running server or a client library call
    // from this synchronous code; it runs as the bootstrap superuser, i.e. `malipo`.
    let mut single = run_as.command(&bins.postgres(), layout.root());
    // exit_on_error makes a failed statement fail the process instead of only printing.
    single
        .arg("--single")
        .args(["-c", "exit_on_error=on", "-D"])
        .arg(&staging)
        .arg("postgres");
    run(
        single,
        Some(&format!("CREATE DATABASE {DATABASE};\n")),
        "create the malipo database",
    )?;

    let conf = staging.join("postgresql.conf");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut f| f.write_all(config::INCLUDE_LINE.as_bytes()))
        .with_context(|| format!("failed to add malipo's settings to {}", conf.display()))?;

    std::fs::rename(&staging, layout.cluster()).with_context(|| {
        format!(
            "failed to move the new cluster to {}",
            layout.cluster().display()
        )
    })
}
