//! A fixed team of threads for the many tiny parallel steps of decoding one
//! token (≈ 150 per token on a 30-layer model, each 10-100 µs of work).
//!
//! rayon's fork-join costs several microseconds per step, which was a fifth
//! of SmolLM2's decode time; here the caller runs as member 0 and the others
//! spin on a shared counter, so a step costs about one cache-line transfer.
//! Members that find no work for a while go to sleep on a condition
//! variable, so an idle engine burns no CPU.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a waiting thread busy-spins: longer than the gap between two
/// steps of one token.
const SPIN: Duration = Duration::from_micros(30);
/// How long an idle member keeps polling (yielding its core to anyone who
/// wants it) before sleeping: longer than the gap between two tokens
/// (sampling, detokenizing), short enough that a finished reply frees the
/// cores at once. Yielding keeps the team usable when other processes (or
/// other models, as in parallel tests) compete for the cores.
const POLL: Duration = Duration::from_millis(2);

/// One round of waiting, `started` ago: spin, then yield; false once it is
/// time to sleep.
fn wait_a_little(started: Instant) -> bool {
    let waited = started.elapsed();
    if waited < SPIN {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    waited < POLL
}

/// The current step: a borrowed closure, valid while `Team::run` waits.
type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Bumped once per step; members run the job when it changes.
    epoch: AtomicU64,
    /// Members (not counting the caller) that finished the current step.
    done: AtomicUsize,
    job: Mutex<Option<SendJob>>,
    sleepers: AtomicUsize,
    wake: Condvar,
    stop: AtomicBool,
    /// A member's step panicked; the caller re-raises it.
    panicked: AtomicBool,
}

#[derive(Clone, Copy)]
struct SendJob(Job);
// Safety: the pointee is Sync and outlives every use (see `Team::run`).
unsafe impl Send for SendJob {}

pub struct Team {
    shared: Arc<Shared>,
    members: Vec<JoinHandle<()>>,
}

impl Team {
    /// A team of `size` (at least 1) including the calling thread.
    pub fn new(size: usize) -> Self {
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            job: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
        });
        let members = (1..size.max(1))
            .map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("candlelight-team-{index}"))
                    .spawn(move || member(&shared, index))
                    .expect("spawn a team thread")
            })
            .collect();
        Self { shared, members }
    }

    pub fn size(&self) -> usize {
        self.members.len() + 1
    }

    /// Runs `f(member)` on every member at once (the caller is member 0);
    /// returns when all have finished.
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.members.is_empty() {
            return f(0);
        }
        let s = &*self.shared;
        // Safety: erasing the lifetime is sound because this function does
        // not return before every member has finished calling `f`.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        *s.job.lock().unwrap() = Some(SendJob(job));
        s.done.store(0, Ordering::SeqCst);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = s.job.lock().unwrap();
            s.wake.notify_all();
        }
        // Waits for the members even if `f` panics here, since they still
        // borrow it.
        let _wait = WaitForMembers {
            shared: s,
            members: self.members.len(),
        };
        f(0);
    }

    /// Runs `f` on every chunk `start..end` of `0..total` (chunks of
    /// `chunk`), handed out to members as they become free.
    pub fn for_each_chunk(&self, total: usize, chunk: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        let next = AtomicUsize::new(0);
        let chunk = chunk.max(1);
        self.run(&|_| loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            if start >= total {
                break;
            }
            f(start, (start + chunk).min(total));
        });
    }
}

struct WaitForMembers<'a> {
    shared: &'a Shared,
    members: usize,
}

impl Drop for WaitForMembers<'_> {
    fn drop(&mut self) {
        let started = Instant::now();
        while self.shared.done.load(Ordering::Acquire) < self.members {
            wait_a_little(started);
        }
        if self.shared.panicked.swap(false, Ordering::SeqCst) && !std::thread::panicking() {
            panic!("a team thread panicked");
        }
    }
}

fn member(s: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        let started = Instant::now();
        let epoch = loop {
            let epoch = s.epoch.load(Ordering::SeqCst);
            if epoch != seen || s.stop.load(Ordering::SeqCst) {
                break epoch;
            }
            if wait_a_little(started) {
                continue;
            }
            // Sleep until the next step; re-check under the lock so a step
            // published meanwhile is not missed.
            let mut guard = s.job.lock().unwrap();
            s.sleepers.fetch_add(1, Ordering::SeqCst);
            while s.epoch.load(Ordering::SeqCst) == seen && !s.stop.load(Ordering::SeqCst) {
                guard = s.wake.wait(guard).unwrap();
            }
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
        };
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        seen = epoch;
        let job = s.job.lock().unwrap().expect("a published step").0;
        // Safety: `Team::run` keeps the closure alive until `done` counts us.
        let ran =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*job)(index) }));
        if ran.is_err() {
            s.panicked.store(true, Ordering::SeqCst);
        }
        s.done.fetch_add(1, Ordering::Release);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.job.lock().unwrap();
            self.shared.wake.notify_all();
        }
        for m in self.members.drain(..) {
            let _ = m.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_runs_every_step() {
        let team = Team::new(3);
        for _ in 0..1000 {
            let ran = AtomicUsize::new(0);
            team.run(&|m| {
                ran.fetch_add(1 << (8 * m), Ordering::Relaxed);
            });
            assert_eq!(ran.into_inner(), 0x010101);
        }
    }

    #[test]
    fn chunks_cover_the_range_once() {
        let team = Team::new(2);
        let hits: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        team.for_each_chunk(1000, 7, &|a, b| {
            for h in &hits[a..b] {
                h.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn a_members_panic_reaches_the_caller_and_the_team_goes_on() {
        let team = Team::new(2);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            team.run(&|m| assert_eq!(m, 0, "member {m} fails"));
        }));
        assert!(result.is_err());
        let ran = AtomicUsize::new(0);
        team.run(&|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.into_inner(), 2);
    }

    #[test]
    fn sleeping_members_wake_for_the_next_step() {
        let team = Team::new(2);
        std::thread::sleep(POLL * 3);
        let ran = AtomicUsize::new(0);
        team.run(&|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.into_inner(), 2);
    }
}
