//! Child processes that cannot outlive the test: long-running servers
//! ([`ManagedProcess`]) and one-shot commands ([`run_with_timeout`],
//! [`run_with_input`]).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::prctl;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Lines of a server's log shown when a test fails or a server dies early.
pub(crate) const LOG_TAIL_LINES: usize = 40;

/// Starts the line [`ManagedProcess::spawn`] writes into a server's log
/// before each run, so a log with several runs can be split into them.
pub(crate) const RUN_HEADER: &str = "=== harness: starting ";

/// Polls `probe` until it yields a value or `timeout` has passed. `Ok(None)`
/// means "not yet"; an `Err` stops the wait at once (say, the process being
/// waited for has died, so waiting longer cannot help).
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Gives the child its own process group, so that one `killpg` also reaches
/// anything it forks (zkCli.sh runs java as a child, not with exec), and has
/// the kernel SIGKILL it if the thread that spawned it dies, so that an
/// interrupted or crashed test run leaves nothing behind.
fn isolate(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec; it only makes the
    // prctl system call, which is async-signal-safe, and allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
    }
}

fn group_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"))
}

/// A long-running server whose stdout and stderr go to a log file, killed
/// with SIGKILL to its whole process group when dropped.
pub(crate) struct ManagedProcess {
    name: String,
    log: PathBuf,
    child: Child,
    /// Set once the child has been reaped; from then on its pid may belong
    /// to an unrelated process and must never be signalled.
    status: Option<ExitStatus>,
}

impl ManagedProcess {
    /// Starts `cmd`, appending its output to `log` after a header line, so a
    /// restarted server keeps one log with every run in it.
    pub(crate) fn spawn(name: String, mut cmd: Command, log: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        writeln!(file, "{RUN_HEADER}{name}: {cmd:?}")?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        isolate(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        Ok(Self {
            name,
            log: log.to_owned(),
            child,
            status: None,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has exited, reaping it.
    pub(crate) fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Fails with the log tail if the process has exited; start-up waits
    /// call this on every poll so that a crash is reported at once.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        match self.exit_status()? {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited ({status}); last lines of {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail()
            ),
        }
    }

    /// Sends `signal` to the process group; an error if it has exited.
    pub(crate) fn signal(&mut self, signal: Signal) -> Result<()> {
        self.check_running()?;
        killpg(group_of(&self.child), signal)
            .with_context(|| format!("sending {signal} to {}", self.name))
    }

    /// SIGKILL to the process group, then reaps the process.
    pub(crate) fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status()? {
            return Ok(status);
        }
        killpg(group_of(&self.child), Signal::SIGKILL)
            .with_context(|| format!("killing {}", self.name))?;
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// SIGTERM, then waits up to `timeout` for the process to exit.
    pub(crate) fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        let what = format!("{} to exit after SIGTERM", self.name);
        wait_until(&what, timeout, || self.exit_status())
    }

    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log, LOG_TAIL_LINES)
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- {} (pid {}): last lines of {} ---\n{}",
                self.name,
                self.pid(),
                self.log.display(),
                self.log_tail()
            );
        }
        if let Err(e) = self.kill() {
            eprintln!("harness: could not kill {}: {e:#}", self.name);
        }
    }
}

/// The last `lines` lines of a log file, or why it could not be read.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Runs a one-shot command to completion and returns its output whatever
/// its exit status; kills its process group and fails if it takes longer
/// than `timeout`.
pub fn run_with_timeout(cmd: Command, timeout: Duration) -> Result<Output> {
    run(cmd, None, timeout)
}

/// As [`run_with_timeout`], with `input` written to the command's stdin,
/// which is then closed (end of input), as `printf … | tool` does.
pub fn run_with_input(cmd: Command, input: &[u8], timeout: Duration) -> Result<Output> {
    run(cmd, Some(input.to_vec()), timeout)
}

fn run(mut cmd: Command, input: Option<Vec<u8>>, timeout: Duration) -> Result<Output> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    isolate(&mut cmd);
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().with_context(|| format!("spawning {what}"))?;
    // Written from a thread, so that a child that does not read all of it
    // cannot block the wait; dropping the pipe closes the child's stdin.
    let stdin = child.stdin.take().zip(input).map(|(mut pipe, input)| {
        thread::spawn(move || {
            // A child that exits before reading everything breaks the pipe;
            // its exit status and output tell what happened.
            let _ = pipe.write_all(&input);
        })
    });
    // Drain both pipes while waiting, or a chatty child blocks on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let waited = wait_until(&what, timeout, || Ok(child.try_wait()?));
    if waited.is_err() {
        // Ignore errors: the child may have exited since the last poll.
        let _ = killpg(group_of(&child), Signal::SIGKILL);
        let _ = child.wait();
    }
    if let Some(writer) = stdin {
        writer.join().expect("pipe writer panicked");
    }
    let stdout = stdout.join().expect("pipe reader panicked");
    let stderr = stderr.join().expect("pipe reader panicked");
    match waited {
        Ok(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        Err(e) => bail!(
            "{e:#}\nstdout so far:\n{}\nstderr so far:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the capture; what was read is still useful.
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}
