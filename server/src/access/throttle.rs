//! Slowing down guessing: each failed attempt from an address waits longer
//! before its answer (250 ms, doubling, at most 8 s). Quiet addresses are
//! forgiven after a while.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// Records a failed attempt and returns how long to wait before answering.
    pub fn fail(&self, ip: IpAddr) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        failures.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        let entry = failures.entry(ip).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        delay_for(entry.0)
    }
}

fn delay_for(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(6);
    (FIRST_DELAY * factor).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped_per_address() {
        let t = Throttle::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(t.fail(a), Duration::from_millis(250));
        assert_eq!(t.fail(a), Duration::from_millis(500));
        assert_eq!(t.fail(a), Duration::from_millis(1000));
        assert_eq!(t.fail(b), Duration::from_millis(250));
        for _ in 0..10 {
            t.fail(a);
        }
        assert_eq!(t.fail(a), MAX_DELAY);
    }
}
