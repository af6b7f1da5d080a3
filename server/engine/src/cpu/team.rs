//! A fixed team of threads for the many tiny parallel steps of decoding one
//! token (≈ 150 per token on a 30-layer model, each 10-100 µs of work).
//!
//! rayon's fork-join costs several microseconds per step, which was a fifth
//! of SmolLM2's decode time; here the caller runs as member 0 and the others
//! spin on a shared counter, so a step costs about one cache-line transfer.
//! Members that find no work for a while go to sleep on a condition
//! variable, so an idle engine burns no CPU.
//!
//! A step never waits for a member that has not started it: members join
//! a step while it is open, and the caller closes it when its own share is
//! done, then waits only for those that joined. So when another program
//! (a browser on the same laptop) holds a core, the step goes on without
//! that core's thread instead of stalling until the scheduler brings it
//! back. Work is therefore handed out dynamically (a shared counter), never
//! split by member.

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

/// `Shared::step`: the step's number in the high 32 bits, then `CLOSED`,
/// then how many members joined it.
const EPOCH_ONE: u64 = 1 << 32;
const CLOSED: u64 = 1 << 31;
const JOINED: u64 = CLOSED - 1;

struct Shared {
    /// The current step (see `EPOCH_ONE`); members join by incrementing its
    /// count while it is open.
    step: AtomicU64,
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
            step: AtomicU64::new(CLOSED),
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

    /// Runs `f(0)` on the caller and `f(member)` on every member that is
    /// free to join before the caller's call returns; returns when all of
    /// those have finished. `f` must share its work out dynamically (see
    /// `for_each_chunk`): a member may not take part at all.
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.members.is_empty() {
            return f(0);
        }
        let s = &*self.shared;
        // Safety: erasing the lifetime is sound because this function does
        // not return before every member that joined has finished `f`, and
        // no member joins after that.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        *s.job.lock().unwrap() = Some(SendJob(job));
        s.done.store(0, Ordering::SeqCst);
        // Only this thread changes the epoch, so load-then-store is safe;
        // the new step starts open with nobody joined. (Members compare
        // epochs for inequality only, so wrapping around is harmless.)
        let epoch = s.step.load(Ordering::SeqCst) & !(CLOSED | JOINED);
        s.step
            .store(epoch.wrapping_add(EPOCH_ONE), Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = s.job.lock().unwrap();
            s.wake.notify_all();
        }
        // Closes the step and waits for those who joined, even if `f`
        // panics here, since they still borrow it.
        let _wait = CloseStep { shared: s };
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

struct CloseStep<'a> {
    shared: &'a Shared,
}

impl Drop for CloseStep<'_> {
    fn drop(&mut self) {
        let joined = (self.shared.step.fetch_or(CLOSED, Ordering::SeqCst) & JOINED) as usize;
        let started = Instant::now();
        while self.shared.done.load(Ordering::Acquire) < joined {
            wait_a_little(started);
        }
        if self.shared.panicked.swap(false, Ordering::SeqCst) && !std::thread::panicking() {
            panic!("a team thread panicked");
        }
    }
}

fn epoch_of(step: u64) -> u64 {
    step / EPOCH_ONE
}

fn member(s: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        let mut started = Instant::now();
        loop {
            if s.stop.load(Ordering::SeqCst) {
                return;
            }
            let step = s.step.load(Ordering::SeqCst);
            if epoch_of(step) != seen {
                if step & CLOSED != 0 {
                    // Finished without us: wait for the next one.
                    seen = epoch_of(step);
                    started = Instant::now();
                } else if s
                    .step
                    .compare_exchange(step, step + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    seen = epoch_of(step);
                    break;
                }
                continue;
            }
            if wait_a_little(started) {
                continue;
            }
            // Sleep until the next step; re-check under the lock so a step
            // published meanwhile is not missed.
            let mut guard = s.job.lock().unwrap();
            s.sleepers.fetch_add(1, Ordering::SeqCst);
            while epoch_of(s.step.load(Ordering::SeqCst)) == seen && !s.stop.load(Ordering::SeqCst)
            {
                guard = s.wake.wait(guard).unwrap();
            }
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
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

    /// Runs a step whose caller waits (up to a few seconds) until `wanted`
    /// members joined; returns the members that ran, as bits.
    fn step_joined_by(team: &Team, wanted: usize, f: &(dyn Fn(usize) + Sync)) -> usize {
        let ran = AtomicUsize::new(0);
        team.run(&|m| {
            ran.fetch_or(1 << m, Ordering::SeqCst);
            if m == 0 {
                let started = Instant::now();
                while (ran.load(Ordering::SeqCst) >> 1).count_ones() < wanted as u32
                    && started.elapsed() < Duration::from_secs(5)
                {
                    std::thread::yield_now();
                }
            }
            f(m);
        });
        ran.into_inner()
    }

    #[test]
    fn free_members_join_each_step_once() {
        let team = Team::new(3);
        for _ in 0..200 {
            assert_eq!(step_joined_by(&team, 2, &|_| {}), 0b111);
        }
    }

    /// Steps the caller finishes alone do not wait for members, which may
    /// be asleep or busy; those skip the steps that closed meanwhile and
    /// join the next ones.
    #[test]
    fn steps_go_on_without_absent_members() {
        let team = Team::new(2);
        std::thread::sleep(POLL * 3);
        let total = AtomicUsize::new(0);
        for _ in 0..1000 {
            team.run(&|_| {
                total.fetch_add(1, Ordering::Relaxed);
            });
        }
        let total = total.into_inner();
        assert!((1000..=2000).contains(&total), "{total}");
        assert_eq!(step_joined_by(&team, 1, &|_| {}), 0b11);
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
            step_joined_by(&team, 1, &|m| assert_eq!(m, 0, "member {m} fails"));
        }));
        assert!(result.is_err());
        assert_eq!(step_joined_by(&team, 1, &|_| {}), 0b11);
    }

    #[test]
    fn sleeping_members_wake_for_the_next_step() {
        let team = Team::new(2);
        std::thread::sleep(POLL * 3);
        assert_eq!(step_joined_by(&team, 1, &|_| {}), 0b11);
    }
}
