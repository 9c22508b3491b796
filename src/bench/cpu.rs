//! Where a benchmark's CPU time went: the machine's busy time split into this process, the
//! worker processes it started, and everything else — on a benchmark machine, PostgreSQL (plus
//! the kernel's share of loopback networking). Read from Linux's `/proc`; elsewhere the split
//! is simply not reported.

use std::fs;

use serde::Serialize;

use super::stats::round;

/// CPU counters at one moment, in clock ticks.
#[derive(Debug, Clone)]
pub struct CpuSample {
    machine_busy: u64,
    own: u64,
    workers: u64,
    serves: u64,
}

/// CPU milliseconds spent per unit of work (a lifecycle, a request) between two samples.
#[derive(Debug, Serialize)]
pub struct CpuSplit {
    /// The whole machine's busy time.
    pub machine_ms: f64,
    /// This process: the provider fakes, the benchmark driver and (without `--serves`) the
    /// HTTP front.
    pub bench_process_ms: f64,
    /// The worker processes.
    pub workers_ms: f64,
    /// The `malipo serve` processes, when the front ran in its own processes.
    pub serves_ms: f64,
    /// Everything else: PostgreSQL, and the kernel's work not charged to a process.
    pub database_and_rest_ms: f64,
}

impl CpuSample {
    /// Reads the counters for the machine, this process, the `workers` and the `serves`
    /// (process ids).
    pub fn now(workers: &[u32], serves: &[u32]) -> Option<Self> {
        Some(Self {
            machine_busy: machine_busy_ticks()?,
            own: process_ticks("/proc/self/stat")?,
            workers: processes_ticks(workers)?,
            serves: processes_ticks(serves)?,
        })
    }

    /// The CPU spent from `self` to `later`, per one of `units`.
    pub fn split_until(&self, later: &Self, units: usize) -> Option<CpuSplit> {
        let ticks_per_sec = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        if units == 0 || ticks_per_sec <= 0 {
            return None;
        }
        let per_unit =
            |ticks: u64| round(ticks as f64 * 1_000.0 / ticks_per_sec as f64 / units as f64);
        let machine = later.machine_busy.saturating_sub(self.machine_busy);
        let own = later.own.saturating_sub(self.own);
        let workers = later.workers.saturating_sub(self.workers);
        let serves = later.serves.saturating_sub(self.serves);
        Some(CpuSplit {
            machine_ms: per_unit(machine),
            bench_process_ms: per_unit(own),
            workers_ms: per_unit(workers),
            serves_ms: per_unit(serves),
            database_and_rest_ms: per_unit(machine.saturating_sub(own + workers + serves)),
        })
    }
}

/// Busy ticks of all CPUs: user, nice, system, irq and softirq from `/proc/stat`'s `cpu` line.
/// Idle and iowait are not work; steal is time the hypervisor gave to other machines; guest
/// time is already inside user time.
fn machine_busy_ticks() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let columns: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|column| column.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, ..] = columns[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq)
}

/// User plus system ticks of a process (all its threads) from its `stat` file.
fn processes_ticks(pids: &[u32]) -> Option<u64> {
    pids.iter()
        .map(|pid| process_ticks(&format!("/proc/{pid}/stat")))
        .sum()
}

fn process_ticks(path: &str) -> Option<u64> {
    let stat = fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after its closing
    // parenthesis are plain: state is field 3, utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_shows_up_in_its_own_and_the_machines_ticks() {
        let Some(before) = CpuSample::now(&[], &[]) else {
            return; // not Linux
        };
        // Spin until this process has used 200 ms of CPU by its own account — on a busy machine
        // that takes longer than 200 ms of wall time — bounded so a broken reading fails.
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        let split = loop {
            let slice = std::time::Instant::now();
            while slice.elapsed() < std::time::Duration::from_millis(50) {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
            let after = CpuSample::now(&[], &[]).expect("readable a moment ago");
            let split = before.split_until(&after, 1).expect("one unit");
            if split.bench_process_ms >= 200.0 {
                break split;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "60 s of spinning never showed 200 ms of CPU: {split:?}"
            );
        };
        assert!(
            split.machine_ms >= split.bench_process_ms - 20.0,
            "{split:?}"
        );
        assert_eq!(split.workers_ms, 0.0);
    }
}
