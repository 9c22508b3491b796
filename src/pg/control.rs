//! `pg_ctl` status, start and stop for an existing cluster.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};

use super::binaries::PgBinaries;
use super::config::{self, Durability, Settings};
use super::exec::{run, said};
use super::layout::{Layout, write_private};
use super::os_user::RunAs;
use super::port;

/// Start attempts when another process grabs the chosen port between our check and the bind.
const START_ATTEMPTS: usize = 3;

/// Server log lines quoted in a start failure.
const LOG_TAIL_LINES: usize = 20;

/// The tools and account that operate one cluster.
pub(crate) struct Control<'a> {
    pub layout: &'a Layout,
    pub bins: &'a PgBinaries,
    pub run_as: &'a RunAs,
}

impl Control<'_> {
    /// Whether a server is running on the cluster (`pg_ctl status` exits 3 when it is not).
    pub(crate) fn is_running(&self) -> anyhow::Result<bool> {
        let mut cmd = self.pg_ctl("status");
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .context("failed to run pg_ctl status")?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => bail!(
                "failed to check whether PostgreSQL is running: {}",
                said(&out)
            ),
        }
    }

    /// Starts the server on the persisted port, or on a new one (then persisted) when the old
    /// one is taken. Returns the port.
    pub(crate) fn start(&self, durability: Durability) -> anyhow::Result<u16> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = self.choose_port()?;
            match self.start_on(port, durability) {
                Ok(()) => return Ok(port),
                // Only a lost race for the port is worth another attempt.
                Err(e) if !port::is_free(port) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("failed to start PostgreSQL")))
    }

    /// `pg_ctl stop -m fast`: disconnects clients, rolls back their transactions, shuts down
    /// cleanly.
    pub(crate) fn stop(&self) -> anyhow::Result<()> {
        let mut cmd = self.pg_ctl("stop");
        cmd.args(["-m", "fast", "-w"]);
        run(cmd, None, "stop PostgreSQL").map(drop)
    }

    /// `pg_ctl stop -m immediate`: the server quits at once without a checkpoint, as in a
    /// power cut; the next start replays the WAL (crash recovery).
    pub(crate) fn stop_immediately(&self) -> anyhow::Result<()> {
        let mut cmd = self.pg_ctl("stop");
        cmd.args(["-m", "immediate", "-w"]);
        run(cmd, None, "stop PostgreSQL immediately").map(drop)
    }

    fn choose_port(&self) -> anyhow::Result<u16> {
        let file = self.layout.port();
        if file.exists() {
            let port = super::layout::read_port(&file)?;
            if port::is_free(port) {
                return Ok(port);
            }
            tracing::warn!(port, "the local PostgreSQL port is taken; picking another");
        }
        let port = port::pick_free()?;
        write_private(&file, &port.to_string())?;
        Ok(port)
    }

    fn start_on(&self, port: u16, durability: Durability) -> anyhow::Result<()> {
        let settings = Settings {
            port,
            socket_dir: self.layout.socket_dir(port),
            durability,
            statement_stats: self.bins.has_library("pg_stat_statements"),
        };
        let conf = self.layout.cluster().join(config::FILE_NAME);
        write_private(&conf, &config::render(&settings))?;
        self.run_as.give(&conf)?;

        tracing::info!(port, dir = %self.layout.cluster().display(), "starting local PostgreSQL");
        let mut cmd = self.pg_ctl("start");
        // -l sends the server's output to a file: otherwise the server would inherit our pipes
        // and reading pg_ctl's output would never finish.
        cmd.args(["-w", "-t", "60", "-l"]).arg(self.layout.log());
        run(cmd, None, "start PostgreSQL")
            .map(drop)
            .with_context(|| {
                let log = self.layout.log();
                format!(
                    "failed to start local PostgreSQL on 127.0.0.1:{port}; {} ends with:\n{}",
                    log.display(),
                    tail(&log, LOG_TAIL_LINES)
                )
            })
    }

    fn pg_ctl(&self, action: &str) -> std::process::Command {
        let mut cmd = self.run_as.command(&self.bins.pg_ctl(), self.layout.root());
        cmd.arg(action).arg("-D").arg(self.layout.cluster());
        cmd
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
