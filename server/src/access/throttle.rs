//! Slowing down guessing of tokens, passwords and API keys, per client
//! address: after a failed attempt the address is locked out for a while
//! (250 ms, doubling with each further failure, at most a minute).
//!
//! Only guesses are throttled. Behind a cloud provider's proxy every
//! visitor shares one address, so a lockout must never keep out someone
//! who holds the right secret:
//! - [`Throttle::verify`] (access token, API key, both long random
//!   strings): a right secret always passes and does not forgive the
//!   address's failures; a wrong one during the lockout is answered "too
//!   many attempts".
//! - [`Throttle::attempt`] (passwords, which people choose and which can
//!   be guessed): during the lockout a password is not even checked.
//!   Checking and recording happen under one lock, so many guesses sent at
//!   once count as one attempt. Signed-in users are not affected: their
//!   session is not a password attempt.
//!
//! A request that carries no secret at all is not a guess and is not
//! counted (the guards decide that before calling here). Quiet addresses
//! are forgiven after a while.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(60);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// Failures of one address.
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Instant,
}

#[derive(Default)]
pub struct Throttle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

/// How an attempt went.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    /// Wrong; the address must wait this long before the next attempt.
    Refused(Duration),
    /// Not checked: the address is locked out for this much longer.
    LockedOut(Duration),
}

impl Throttle {
    /// Checks a high-entropy secret (`check`, a constant-time comparison):
    /// right always passes; wrong is recorded, or refused unchecked as too
    /// many attempts while `ip` is locked out.
    pub fn verify(&self, ip: IpAddr, check: impl FnOnce() -> bool) -> Attempt {
        if check() {
            return Attempt::Accepted;
        }
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(r) = records.get(&ip) {
            if r.locked_until > now {
                return Attempt::LockedOut(r.locked_until - now);
            }
        }
        Attempt::Refused(record_failure(&mut records, ip, now))
    }

    /// Runs `check` (a constant-time comparison) for `ip` unless the address
    /// is locked out, and records the outcome.
    pub fn attempt(&self, ip: IpAddr, check: impl FnOnce() -> bool) -> Attempt {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
        if let Some(r) = records.get(&ip) {
            if r.locked_until > now {
                return Attempt::LockedOut(r.locked_until - now);
            }
        }
        if check() {
            records.remove(&ip);
            return Attempt::Accepted;
        }
        Attempt::Refused(record_failure(&mut records, ip, now))
    }
}

/// Counts one more failure of `ip`; returns its new lockout.
fn record_failure(records: &mut HashMap<IpAddr, Record>, ip: IpAddr, now: Instant) -> Duration {
    records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
    let r = records.entry(ip).or_insert(Record {
        failures: 0,
        last: now,
        locked_until: now,
    });
    r.failures = r.failures.saturating_add(1);
    r.last = now;
    let delay = delay_for(r.failures);
    r.locked_until = now + delay;
    delay
}

fn delay_for(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(8);
    (FIRST_DELAY * factor).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped_per_address() {
        assert_eq!(delay_for(1), Duration::from_millis(250));
        assert_eq!(delay_for(2), Duration::from_millis(500));
        assert_eq!(delay_for(3), Duration::from_millis(1000));
        assert_eq!(delay_for(40), MAX_DELAY);
    }

    #[test]
    fn a_locked_out_address_is_not_even_checked() {
        let t = Throttle::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(t.attempt(a, || false), Attempt::Refused(FIRST_DELAY));
        // A right guess during the lockout is not looked at.
        assert!(matches!(
            t.attempt(a, || panic!("checked while locked out")),
            Attempt::LockedOut(_)
        ));
        // Other addresses are unaffected.
        assert_eq!(t.attempt(b, || true), Attempt::Accepted);
        std::thread::sleep(FIRST_DELAY);
        assert_eq!(t.attempt(a, || false), Attempt::Refused(FIRST_DELAY * 2));
    }

    /// Someone else's wrong guesses from a shared address (a proxy) never
    /// keep out a request with the right secret, and do not get forgiven
    /// by it either.
    #[test]
    fn right_secrets_pass_a_lockout_they_did_not_cause() {
        let t = Throttle::default();
        let proxy: IpAddr = [10, 0, 0, 4].into();
        assert_eq!(t.verify(proxy, || false), Attempt::Refused(FIRST_DELAY));
        assert!(matches!(t.verify(proxy, || false), Attempt::LockedOut(_)));
        for _ in 0..5 {
            assert_eq!(t.verify(proxy, || true), Attempt::Accepted);
        }
        assert!(matches!(t.verify(proxy, || false), Attempt::LockedOut(_)));
    }

    #[test]
    fn parallel_guesses_count_as_one() {
        let t = Throttle::default();
        let ip: IpAddr = [10, 0, 0, 3].into();
        let outcomes: Vec<Attempt> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..40)
                .map(|_| s.spawn(|| t.attempt(ip, || false)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let checked = outcomes
            .iter()
            .filter(|o| matches!(o, Attempt::Refused(_)))
            .count();
        assert_eq!(checked, 1, "{outcomes:?}");
    }
}
