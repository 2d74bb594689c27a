//! Process CPU time and peak memory, read from `/proc` (Linux), for this process or a child.
//!
//! The peak (`VmHWM`) is reset between benchmark runs by writing `5` to `clear_refs`
//! (Linux ≥ 4.0), so each run reports its own peak rather than the whole process's.

use std::time::Duration;

/// Which process to read: this one, or another by pid (a child broker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// `/proc/self`.
    This,
    /// `/proc/<pid>`.
    Pid(u32),
}

impl Proc {
    fn path(self, file: &str) -> String {
        match self {
            Proc::This => format!("/proc/self/{file}"),
            Proc::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }

    /// User plus system CPU time the process has used so far, if `/proc` can tell.
    pub fn cpu_time(self) -> Option<Duration> {
        let stat = std::fs::read_to_string(self.path("stat")).ok()?;
        // Fields after the command name (which is in parentheses and may contain spaces).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(Duration::from_secs_f64(
            (utime + stime) as f64 / clock_ticks_per_second(),
        ))
    }

    /// Peak resident set size in bytes (`VmHWM`) since start or the last
    /// [`reset_peak_rss`](Self::reset_peak_rss), if `/proc` can tell.
    pub fn peak_rss_bytes(self) -> Option<u64> {
        self.status_kb("VmHWM:").map(|kb| kb * 1024)
    }

    /// Current resident set size in bytes (`VmRSS`).
    pub fn rss_bytes(self) -> Option<u64> {
        self.status_kb("VmRSS:").map(|kb| kb * 1024)
    }

    /// Resets the peak RSS to the current RSS; `false` if the kernel refused.
    pub fn reset_peak_rss(self) -> bool {
        std::fs::write(self.path("clear_refs"), "5").is_ok()
    }

    fn status_kb(self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(self.path("status")).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// Hands memory that this process freed but the allocator kept back to the kernel, so
/// the next run's peak RSS does not start from an earlier run's high-water heap.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The kernel's clock tick (`USER_HZ`), the unit of `/proc/<pid>/stat`'s CPU times.
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(Proc::This.cpu_time().is_some());
        let rss = Proc::This.rss_bytes().expect("VmRSS");
        let peak = Proc::This.peak_rss_bytes().expect("VmHWM");
        assert!(peak >= rss / 2 && rss > 0);
    }

    #[test]
    fn peak_resets_to_current() {
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        drop(big);
        if Proc::This.reset_peak_rss() {
            let peak = Proc::This.peak_rss_bytes().expect("VmHWM");
            let rss = Proc::This.rss_bytes().expect("VmRSS");
            assert!(
                peak < rss + (32 << 20),
                "peak {peak} not reset near rss {rss}"
            );
        }
    }
}
