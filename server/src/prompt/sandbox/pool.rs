//! The server's side of the template workers: a few long-lived child
//! processes, each serving one render at a time over its pipes. A worker
//! that dies or overruns [`RENDER_TIMEOUT`](super::RENDER_TIMEOUT) is
//! killed and replaced at the next render.

use std::{
    io::{Read, Write},
    os::fd::AsRawFd,
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::{Condvar, Mutex},
    time::Instant,
};

use super::{
    protocol::{RenderReply, RenderRequest},
    HEAP_LIMIT_BYTES, RENDER_TIMEOUT, WORKER_SUBCOMMAND,
};
use crate::prompt::PromptError;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// Why a worker gave no answer.
enum Lost {
    /// It exited (the heap limit aborts it) or closed its pipe.
    Died,
    TimedOut,
    Unreadable(String),
}

pub(super) struct Pool {
    exe: PathBuf,
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
    pub(super) fn new(exe: PathBuf, max: usize) -> Self {
        Self {
            exe,
            max,
            state: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    pub(super) fn render(&self, request: &RenderRequest) -> Result<RenderReply, PromptError> {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| PromptError::TemplateRender(format!("unencodable messages: {e}")))?;
        line.push(b'\n');
        let mut worker = self.take()?;
        match exchange(&mut worker, &line) {
            Ok(reply) => {
                self.give_back(worker);
                Ok(reply)
            }
            Err(lost) => {
                self.discard(worker);
                Err(match lost {
                    Lost::Died => PromptError::TemplateTooExpensive(format!(
                        "rendering it needed more than {} MB of memory",
                        HEAP_LIMIT_BYTES >> 20
                    )),
                    Lost::TimedOut => PromptError::TemplateTooExpensive(format!(
                        "rendering it took longer than {} s",
                        RENDER_TIMEOUT.as_secs()
                    )),
                    Lost::Unreadable(e) => {
                        tracing::error!(error = %e, "a template worker answered nonsense");
                        PromptError::TemplateRender("the template worker failed".into())
                    }
                })
            }
        }
    }

    /// An idle worker, a new one if fewer than `max` are alive, or the
    /// next one given back.
    fn take(&self) -> Result<Worker, PromptError> {
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
            "a template render was stopped; its worker is replaced"
        );
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.alive -= 1;
        self.returned.notify_one();
    }

    fn spawn(&self) -> Result<Worker, PromptError> {
        let mut child = Command::new(&self.exe)
            .arg(WORKER_SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // An abort prints "memory allocation failed"; the server logs
            // what it means instead.
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                tracing::error!(exe = %self.exe.display(), error = %e, "cannot start a template worker");
                PromptError::TemplateRender("the template worker could not be started".into())
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(PromptError::TemplateRender(
                "the template worker has no pipes".into(),
            ));
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
fn exchange(worker: &mut Worker, line: &[u8]) -> Result<RenderReply, Lost> {
    let deadline = Instant::now() + RENDER_TIMEOUT;
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
