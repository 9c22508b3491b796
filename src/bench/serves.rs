//! `malipo serve` processes for `bench e2e --serves N`: the HTTP front scaled out the way a
//! deployment scales it, each process on its own loopback port, started with the variables the
//! worker processes get.

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

/// How long a `malipo serve` gets to answer `/healthz` after it starts.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Running `malipo serve` children, killed when dropped.
pub struct Serves(Vec<Child>);

impl Drop for Serves {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `count` free loopback addresses, as `http://127.0.0.1:<port>` (each bound and released at
/// once, so a serve process can bind it).
pub fn reserve_bases(count: usize) -> anyhow::Result<Vec<String>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("failed to find a free loopback port")?;
    listeners
        .iter()
        .map(|listener| Ok(format!("http://{}", listener.local_addr()?)))
        .collect()
}

impl Serves {
    /// Starts one `malipo serve` per base and waits until each answers `/healthz`.
    pub async fn start(
        exe: &Path,
        database_url: &str,
        env: &HashMap<&str, String>,
        bases: &[String],
    ) -> anyhow::Result<Self> {
        let mut serves = Self(Vec::new());
        for base in bases {
            let address = base.trim_start_matches("http://");
            let mut command = Command::new(exe);
            command
                .arg("serve")
                .env("DATABASE_URL", database_url)
                .env("MALIPO_HTTP_ADDR", address)
                // The benchmark measures malipo, not its per-client limiter.
                .env("MALIPO_RATE_LIMIT_PER_SEC", "1000000")
                .env("MALIPO_RATE_LIMIT_BURST", "1000000")
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (name, value) in env {
                command.env(name, value);
            }
            serves
                .0
                .push(command.spawn().context("failed to start a serve process")?);
        }
        let http = reqwest::Client::new();
        for base in bases {
            wait_until_ready(&http, base).await?;
        }
        Ok(serves)
    }

    /// Their process ids, for the CPU split.
    pub fn pids(&self) -> Vec<u32> {
        self.0.iter().map(Child::id).collect()
    }
}

async fn wait_until_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let answer = http.get(format!("{base}/healthz")).send().await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < READY_WITHIN,
            "malipo serve at {base} did not answer /healthz within {READY_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
