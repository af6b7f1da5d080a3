//! Why a reply should end before it is done: its requester stopped it (the
//! Stop button, a closed tab, an API client that went away) or the server
//! did (shutting down, switching or unloading the model). Clients must be
//! able to tell the two apart: a reply the server cut off did not end the
//! way its requester chose.

use std::sync::{
    atomic::{AtomicU8, Ordering},
    Arc,
};

use super::FinishReason;

const RUNNING: u8 = 0;
const STOPPED: u8 = 1;
const INTERRUPTED: u8 = 2;

/// Shared by the requester's side and the scheduler; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicU8>);

impl Cancel {
    /// The requester ends the reply.
    pub fn stop(&self) {
        let _ = self
            .0
            .compare_exchange(RUNNING, STOPPED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The server ends the reply (a stop asked for first stays a stop).
    pub fn interrupt(&self) {
        let _ = self
            .0
            .compare_exchange(RUNNING, INTERRUPTED, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed) != RUNNING
    }

    /// How a reply ended early, if it was asked to.
    pub fn reason(&self) -> Option<FinishReason> {
        match self.0.load(Ordering::Relaxed) {
            STOPPED => Some(FinishReason::Cancelled),
            INTERRUPTED => Some(FinishReason::Interrupted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_stays() {
        let c = Cancel::default();
        assert_eq!(c.reason(), None);
        c.interrupt();
        c.stop();
        assert_eq!(c.reason(), Some(FinishReason::Interrupted));
        let c = Cancel::default();
        c.stop();
        c.interrupt();
        assert_eq!(c.reason(), Some(FinishReason::Cancelled));
    }
}
