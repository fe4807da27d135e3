//! Where the machine's CPU went during a run: the load generator (this process and its children,
//! such as pgbench), the server, PostgreSQL and the rest, as shares of all cores, from `/proc`.
//!
//! The bench shares the cores with what it measures, so a figure is only as good as the share the
//! load generator left to the server and the database; every run reports it.

use std::fs;

/// Jiffies spent so far, by whom.
#[derive(Debug, Clone, Copy, Default)]
struct Times {
    /// All cores, all states (from `/proc/stat`).
    total: u64,
    /// All cores idle or waiting for I/O.
    idle: u64,
    /// This process, and its children that have exited (pgbench).
    generator: u64,
    /// The server's process.
    server: u64,
    /// Every `postgres` process, and the backends that have exited (their time is the
    /// postmaster's children's time once it reaps them).
    postgres: u64,
}

/// A process's user and system time, with its reaped children's: fields 14–17 of `stat`.
fn process_times(pid: &str) -> Option<(String, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    // `tail` starts at field 3 (state), so field n is at index n - 3.
    let jiffies = (14..=17)
        .map(|n| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()?;
    Some((name, jiffies))
}

fn snapshot(server: Option<u32>) -> Times {
    let mut times = Times::default();
    if let Ok(stat) = fs::read_to_string("/proc/stat")
        && let Some(line) = stat.lines().find(|l| l.starts_with("cpu "))
    {
        let values: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        times.total = values.iter().take(8).sum();
        times.idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    }
    let own = std::process::id().to_string();
    let server = server.map(|pid| pid.to_string());
    let Ok(entries) = fs::read_dir("/proc") else {
        return times;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Some((name, jiffies)) = process_times(&pid) else {
            continue;
        };
        if pid == own {
            times.generator += jiffies;
        } else if server.as_deref() == Some(pid.as_str()) {
            times.server += jiffies;
        } else if name == "postgres" {
            times.postgres += jiffies;
        }
    }
    times
}

/// A meter started before a run.
#[derive(Debug)]
pub struct Meter {
    server: Option<u32>,
    start: Times,
}

/// The shares of all cores during a run, in percent.
#[derive(Debug, Clone, Copy)]
pub struct Shares {
    /// The load generator (with pgbench when it ran the floor).
    pub generator: f64,
    /// The server.
    pub server: f64,
    /// PostgreSQL.
    pub postgres: f64,
    /// Everything else that was busy (Redis, the kernel's own threads, other processes).
    pub other: f64,
    /// Idle.
    pub idle: f64,
}

impl Meter {
    /// Starts measuring; `server` is the server's process when the bench started it.
    pub fn start(server: Option<u32>) -> Meter {
        Meter {
            server,
            start: snapshot(server),
        }
    }

    /// The shares since the start.
    pub fn shares(&self) -> Shares {
        let end = snapshot(self.server);
        let total = end.total.saturating_sub(self.start.total).max(1) as f64;
        let share = |a: u64, b: u64| 100.0 * a.saturating_sub(b) as f64 / total;
        let generator = share(end.generator, self.start.generator);
        let server = share(end.server, self.start.server);
        let postgres = share(end.postgres, self.start.postgres);
        let idle = share(end.idle, self.start.idle);
        Shares {
            generator,
            server,
            postgres,
            other: (100.0 - generator - server - postgres - idle).max(0.0),
            idle,
        }
    }
}

impl std::fmt::Display for Shares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "load generator {:.0} %, server {:.0} %, PostgreSQL {:.0} %, other {:.0} %, idle {:.0} %",
            self.generator, self.server, self.postgres, self.other, self.idle
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_loop_shows_as_the_load_generators_share() {
        let meter = Meter::start(None);
        let started = std::time::Instant::now();
        let mut spin = 0_u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let shares = meter.shares();
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        // One thread busy for the whole interval is 1 / cores of the machine; allow for the
        // clock's 10 ms ticks and a loaded machine.
        assert!(
            shares.generator > 100.0 / cores * 0.5,
            "{shares} on {cores} cores"
        );
        assert!(shares.generator <= 100.0 + 1e-9, "{shares}");
    }
}
