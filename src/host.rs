//! Where the host's CPU went during a measured phase (Linux `/proc` only).
//!
//! `cbdc bench` runs on the same host as the service it loads in every
//! benchmark of this repository, so the submit phase's CPU can be split by
//! process: the ledger (processes named `cbdc` other than the load
//! generator), a bank's gateways (processes named `cbdc` whose command line
//! is `cbdc gateway …`), PostgreSQL (processes named `postgres`), the load generator
//! itself, and the rest. Processes that exit during the phase (a database
//! backend that closes, say) are missing from their group's sum but not
//! from the host total, so their share lands in "the rest".
//!
//! Off Linux, or when `/proc` cannot be read, there is no snapshot and the
//! report says nothing about CPU.

use serde::Serialize;
use std::collections::BTreeMap;

/// CPU seconds so far, of the host and of each process group.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Busy and total seconds of all cores since boot.
    host_busy: f64,
    host_total: f64,
    /// Per pid: (group, CPU seconds of all its threads).
    processes: BTreeMap<u32, (Group, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Ledger,
    Gateway,
    Postgres,
    LoadGenerator,
    Other,
}

/// CPU of one phase, as shares of the host's capacity and per transaction.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub cores: usize,
    /// Busy share of all cores over the phase (1.0 = every core busy).
    pub host_busy: f64,
    /// CPU milliseconds per transaction, by group.
    pub ledger_ms: f64,
    /// Bank gateways (zero when none ran).
    pub gateway_ms: f64,
    pub postgres_ms: f64,
    pub load_generator_ms: f64,
    pub other_ms: f64,
}

/// The kernel's USER_HZ, the unit of `/proc` CPU times: 100 on every Linux
/// this runs on, and what `getconf CLK_TCK` prints.
const TICKS_PER_SECOND: f64 = 100.0;

fn host_times() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already inside user, so only the first eight count.
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0.0);
    Some(((total - idle) / TICKS_PER_SECOND, total / TICKS_PER_SECOND))
}

/// The command name and CPU seconds of `pid`, from `/proc/<pid>/stat`.
fn process_times(pid: u32) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces, so split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After comm: state(0) ppid(1) … utime(11) stime(12).
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / TICKS_PER_SECOND))
}

/// Whether `pid`'s command line is `cbdc gateway …`.
fn is_gateway(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| {
        line.split(|b| *b == 0)
            .nth(1)
            .is_some_and(|arg| arg == b"gateway")
    })
}

impl Snapshot {
    /// Now, or `None` where `/proc` is not readable.
    pub fn take() -> Option<Snapshot> {
        let (host_busy, host_total) = host_times()?;
        let me = std::process::id();
        let mut processes = BTreeMap::new();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Some((comm, seconds)) = process_times(pid) else {
                continue;
            };
            let group = if pid == me {
                Group::LoadGenerator
            } else if comm == "cbdc" && is_gateway(pid) {
                Group::Gateway
            } else if comm == "cbdc" {
                Group::Ledger
            } else if comm == "postgres" {
                Group::Postgres
            } else {
                Group::Other
            };
            processes.insert(pid, (group, seconds));
        }
        Some(Snapshot {
            host_busy,
            host_total,
            processes,
        })
    }

    /// What was used between `self` and `later`, per transaction of `transactions`.
    pub fn until(&self, later: &Snapshot, transactions: u64) -> CpuUse {
        let mut by_group: BTreeMap<Group, f64> = BTreeMap::new();
        for (pid, (group, seconds)) in &later.processes {
            // A process that started during the phase counts from zero.
            let before = self
                .processes
                .get(pid)
                .filter(|(g, _)| g == group)
                .map_or(0.0, |(_, s)| *s);
            *by_group.entry(*group).or_default() += (seconds - before).max(0.0);
        }
        let used = |g: Group| by_group.get(&g).copied().unwrap_or(0.0);
        let busy = (later.host_busy - self.host_busy).max(0.0);
        let total = (later.host_total - self.host_total).max(0.0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_tx = |seconds: f64| {
            if transactions == 0 {
                0.0
            } else {
                seconds * 1_000.0
                    / u32::try_from(transactions).map_or(f64::from(u32::MAX), f64::from)
            }
        };
        let attributed = used(Group::Ledger)
            + used(Group::Gateway)
            + used(Group::Postgres)
            + used(Group::LoadGenerator);
        CpuUse {
            cores,
            host_busy: if total > 0.0 { busy / total } else { 0.0 },
            ledger_ms: per_tx(used(Group::Ledger)),
            gateway_ms: per_tx(used(Group::Gateway)),
            postgres_ms: per_tx(used(Group::Postgres)),
            load_generator_ms: per_tx(used(Group::LoadGenerator)),
            other_ms: per_tx((busy - attributed).max(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn reads_this_process_and_the_host() {
        let (comm, seconds) = process_times(std::process::id()).expect("own /proc entry");
        assert!(!comm.is_empty());
        assert!(seconds >= 0.0);
        let (busy, total) = host_times().expect("/proc/stat");
        assert!(total > 0.0 && busy <= total);
    }

    #[test]
    fn burning_cpu_shows_up_as_the_load_generator() {
        let before = Snapshot::take().expect("/proc is readable on Linux");
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = Snapshot::take().expect("/proc is readable on Linux");
        let used = before.until(&after, 1);
        // 300 ms of spinning on one thread: at least 150 ms of it must be
        // seen (ticks are 10 ms; a loaded machine may deschedule us).
        assert!(used.load_generator_ms >= 150.0, "{used:?}");
        assert!(used.host_busy > 0.0);
    }
}
