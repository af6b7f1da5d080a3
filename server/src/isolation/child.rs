//! The child's side of an isolated worker: cap the heap, then answer one
//! JSON line with one JSON line until the server closes the pipe.

use std::{
    fs::File,
    io::{self, BufRead, Write},
    os::fd::FromRawFd,
};

use serde::{de::DeserializeOwned, Serialize};

/// Serves requests on standard input until it closes. `handle` gets each
/// request (or why it could not be read) and returns the reply. The heap
/// is capped at what the process uses now plus `heap_limit` bytes.
///
/// Replies go to the original standard output; anything a library prints
/// goes to standard error instead, so it cannot corrupt the protocol.
pub fn serve_lines<Req, Rep>(
    heap_limit: u64,
    mut handle: impl FnMut(Result<Req, String>) -> Rep,
) -> io::Result<()>
where
    Req: DeserializeOwned,
    Rep: Serialize,
{
    limit_heap(heap_limit)?;
    let mut replies = io::BufWriter::new(reserve_stdout()?);
    let stdin = io::stdin().lock();
    for line in stdin.lines() {
        let request = serde_json::from_str::<Req>(&line?).map_err(|e| e.to_string());
        serde_json::to_writer(&mut replies, &handle(request))?;
        replies.write_all(b"\n")?;
        replies.flush()?;
    }
    Ok(())
}

/// Moves standard output to a new descriptor for replies and points
/// descriptor 1 at standard error.
fn reserve_stdout() -> io::Result<File> {
    // SAFETY: dup/dup2 on the process's own standard descriptors; the new
    // descriptor is owned by the returned File alone.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// Caps this process's data segment (heap and private mappings) at what
/// it uses now plus `extra` bytes: an allocation past it fails, and the
/// process aborts.
fn limit_heap(extra: u64) -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let data_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let limit = data_kib * 1024 + extra;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &rlimit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
