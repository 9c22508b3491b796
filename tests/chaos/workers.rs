//! A fleet of `malipo work` processes that the storm SIGKILLs and restarts; whatever is left is
//! killed when the fleet is dropped, panics included.

use std::{
    collections::HashMap,
    fs::File,
    path::PathBuf,
    process::{Child, Command},
};

/// The worker processes, by slot.
pub struct Fleet {
    children: Vec<Child>,
    env: HashMap<String, String>,
    /// Where each process's stderr goes (one file per spawn).
    pub log_dir: PathBuf,
    /// SIGKILLs sent.
    pub kills: u32,
    /// Processes started, restarts included.
    pub spawns: u32,
    /// Processes found exited that nobody killed: `(slot, exit status)`.
    pub unexpected_exits: Vec<(usize, String)>,
}

impl Fleet {
    /// Starts `size` workers with `env`, logging to `log_dir`.
    pub fn start(size: usize, env: HashMap<String, String>, log_dir: PathBuf) -> Self {
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let mut fleet = Self {
            children: Vec::new(),
            env,
            log_dir,
            kills: 0,
            spawns: 0,
            unexpected_exits: Vec::new(),
        };
        for _ in 0..size {
            let child = fleet.spawn();
            fleet.children.push(child);
        }
        fleet
    }

    /// Number of slots.
    pub fn size(&self) -> usize {
        self.children.len()
    }

    fn spawn(&mut self) -> Child {
        self.spawns += 1;
        let log = File::create(self.log_dir.join(format!("worker-{}.log", self.spawns)))
            .expect("worker log");
        let log_err = log.try_clone().expect("worker log");
        Command::new(env!("CARGO_BIN_EXE_malipo"))
            .arg("work")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("worker process starts")
    }

    /// SIGKILLs the worker in `slot` and starts a fresh one in its place.
    pub fn kill_and_restart(&mut self, slot: usize) {
        self.reap_unexpected();
        let child = &mut self.children[slot];
        // SIGKILL: no shutdown path runs, leases are left to expire.
        let _ = child.kill();
        let _ = child.wait();
        self.kills += 1;
        self.children[slot] = self.spawn();
    }

    /// Restarts (and records) any worker that exited without being killed.
    pub fn reap_unexpected(&mut self) {
        for slot in 0..self.children.len() {
            if let Ok(Some(status)) = self.children[slot].try_wait() {
                self.unexpected_exits.push((slot, status.to_string()));
                self.children[slot] = self.spawn();
            }
        }
    }

    /// Stops every worker (SIGKILL: nothing is left to finish) and waits for them.
    pub fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// malipo's HTTP front as a `malipo serve` process of its own on a fixed port, so the storm
/// can SIGKILL it mid-request and start it again where the clients and the fakes expect it.
pub struct Front {
    child: Option<Child>,
    env: HashMap<String, String>,
    log_dir: PathBuf,
    /// SIGKILLs sent.
    pub kills: u32,
    spawns: u32,
}

impl Front {
    /// Starts `malipo serve` with `env` (which names `MALIPO_HTTP_ADDR`), logging to `log_dir`.
    pub fn start(env: HashMap<String, String>, log_dir: PathBuf) -> Self {
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let mut front = Self {
            child: None,
            env,
            log_dir,
            kills: 0,
            spawns: 0,
        };
        front.child = Some(front.spawn());
        front
    }

    fn spawn(&mut self) -> Child {
        self.spawns += 1;
        let log = File::create(self.log_dir.join(format!("front-{}.log", self.spawns)))
            .expect("front log");
        let log_err = log.try_clone().expect("front log");
        Command::new(env!("CARGO_BIN_EXE_malipo"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("front process starts")
    }

    /// Whether the front exited without being killed.
    pub fn exited_by_itself(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// SIGKILLs the front (requests in flight are cut) and starts a new one on the same port.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.kills += 1;
        self.child = Some(self.spawn());
    }

    /// Stops the front.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop();
    }
}
