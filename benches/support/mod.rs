//! What the benchmarks share: running a child for its peak RSS and CPU, and the load
//! average, so that every bench measures the same way.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak RSS, CPU and exit status of one child process.
pub struct Child {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub cpu: Duration,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command and reaps it with wait4 for its rusage.
// The child is reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run_child(mut cmd: Command) -> Child {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start child");
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            s
        })
    };
    let out = drain(Box::new(child.stdout.expect("stdout piped")));
    let err = drain(Box::new(child.stderr.expect("stderr piped")));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Child {
        wall,
        max_rss_kib: usage.ru_maxrss,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        status: libc::WEXITSTATUS(status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The machine's 1-minute load average (`/proc/loadavg`): others build on it too.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
