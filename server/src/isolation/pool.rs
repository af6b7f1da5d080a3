//! The server's side of isolated workers: a few long-lived child
//! processes (the candlelight binary run with a worker subcommand), each
//! serving one request at a time over its pipes. A child that dies or
//! overruns its deadline is killed and replaced at the next request.

use std::{
    io::{Read, Write},
    os::fd::AsRawFd,
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::{Condvar, Mutex},
    time::{Duration, Instant},
};

use serde::{de::DeserializeOwned, Serialize};

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// Why a worker gave no answer.
#[derive(Debug)]
pub enum Lost {
    /// It exited (the heap limit aborts it) or closed its pipe.
    Died,
    /// It did not answer before the pool's deadline.
    TimedOut,
    /// Its answer (or the request) was not the protocol's JSON.
    Unreadable(String),
    /// No worker could be started.
    Unstartable,
}

pub struct Pool {
    exe: PathBuf,
    subcommand: &'static str,
    timeout: Duration,
    max: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Worker>,
    /// Workers alive, idle or busy.
    alive: usize,
}

impl Pool {
    /// Up to `max` children, each `exe subcommand`, each request answered
    /// within `timeout`.
    pub fn new(exe: PathBuf, subcommand: &'static str, max: usize, timeout: Duration) -> Self {
        Self {
            exe,
            subcommand,
            timeout,
            max: max.max(1),
            state: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    /// Sends `request` to a worker and reads its reply. Blocks (waiting
    /// for a free worker, then for the answer): call it off the async
    /// runtime.
    pub fn call<Req: Serialize, Rep: DeserializeOwned>(&self, request: &Req) -> Result<Rep, Lost> {
        let mut line = serde_json::to_vec(request).map_err(|e| Lost::Unreadable(e.to_string()))?;
        line.push(b'\n');
        let mut worker = self.take()?;
        match exchange(&mut worker, &line, self.timeout) {
            Ok(reply) => {
                self.give_back(worker);
                Ok(reply)
            }
            Err(lost) => {
                self.discard(worker);
                if let Lost::Unreadable(e) = &lost {
                    tracing::error!(error = %e, worker = self.subcommand, "a worker answered nonsense");
                }
                Err(lost)
            }
        }
    }

    /// An idle worker, a new one if fewer than `max` are alive, or the
    /// next one given back.
    fn take(&self) -> Result<Worker, Lost> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(w) = state.idle.pop() {
                return Ok(w);
            }
            if state.alive < self.max {
                state.alive += 1;
                drop(state);
                return self.spawn().inspect_err(|_| {
                    let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    state.alive -= 1;
                    self.returned.notify_one();
                });
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, worker: Worker) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(worker);
        self.returned.notify_one();
    }

    fn discard(&self, mut worker: Worker) {
        let _ = worker.child.kill();
        let status = worker.child.wait();
        tracing::warn!(
            ?status,
            worker = self.subcommand,
            "a worker's request was stopped; the worker is replaced"
        );
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.alive -= 1;
        self.returned.notify_one();
    }

    fn spawn(&self) -> Result<Worker, Lost> {
        let mut child = Command::new(&self.exe)
            .arg(self.subcommand)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // An abort prints "memory allocation failed"; the server logs
            // what it means instead.
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                tracing::error!(exe = %self.exe.display(), error = %e, "cannot start a worker");
                Lost::Unstartable
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(Lost::Unstartable);
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for mut w in state.idle.drain(..) {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

/// Sends one request line and reads one reply line before the deadline.
fn exchange<Rep: DeserializeOwned>(
    worker: &mut Worker,
    line: &[u8],
    timeout: Duration,
) -> Result<Rep, Lost> {
    let deadline = Instant::now() + timeout;
    worker
        .stdin
        .write_all(line)
        .and_then(|()| worker.stdin.flush())
        .map_err(|_| Lost::Died)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        wait_readable(&worker.stdout, deadline)?;
        let n = worker.stdout.read(&mut chunk).map_err(|_| Lost::Died)?;
        if n == 0 {
            return Err(Lost::Died);
        }
        reply.extend_from_slice(&chunk[..n]);
        if reply.last() == Some(&b'\n') {
            return serde_json::from_slice(&reply).map_err(|e| Lost::Unreadable(e.to_string()));
        }
    }
}

/// Blocks until `pipe` has bytes (or is closed), or the deadline passes.
fn wait_readable(pipe: &ChildStdout, deadline: Instant) -> Result<(), Lost> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Lost::TimedOut);
        }
        let mut fd = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd, alive for the call.
        let ready = unsafe { libc::poll(&mut fd, 1, millis) };
        if ready > 0 {
            return Ok(());
        }
        if ready < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(Lost::Died);
        }
    }
}
