//! The requesting side of the scheduler: jobs go onto a channel, and a
//! counter of jobs waiting or running refuses new ones at once when the
//! sequence slots and the waiting queue are full (a clear "busy", never a
//! hang).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc::Sender,
        Arc,
    },
    time::Instant,
};

use tokio::sync::mpsc::UnboundedSender;

use super::super::{Cancel, EngineError, EngineEvent, GenerationJob};

/// A job with the means to report on it and to cancel it.
pub struct QueuedJob {
    pub job: GenerationJob,
    pub events: UnboundedSender<EngineEvent>,
    pub cancel: Cancel,
    pub received: Instant,
}

pub enum Message {
    /// Boxed: a job (prompt, sampler settings, grammar) is much larger
    /// than the other messages.
    Job(Box<QueuedJob>),
    /// Drop the weights until the next job (idle timeout).
    Release,
    /// End every job as interrupted (the model is switched or unloaded,
    /// or the server shuts down).
    InterruptAll,
    /// End every job as interrupted, drop the weights and stop; the
    /// sender hears once they are gone (a switch that needs their memory).
    Free(Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct SchedulerHandle {
    pub(super) sender: Sender<Message>,
    /// Jobs waiting or running.
    pub(super) depth: Arc<AtomicUsize>,
    /// Most jobs waiting or running: the slots plus the waiting queue.
    pub(super) limit: usize,
}

impl SchedulerHandle {
    pub fn submit(&self, job: QueuedJob) -> Result<(), EngineError> {
        let limit = self.limit;
        self.depth
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| {
                (d < limit).then_some(d + 1)
            })
            .map_err(|_| EngineError::QueueFull)?;
        self.sender.send(Message::Job(Box::new(job))).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            EngineError::WorkerGone
        })
    }

    /// Asks the scheduler to drop its weights once it is idle.
    pub fn release(&self) {
        let _ = self.sender.send(Message::Release);
    }

    /// Asks the scheduler to end every job as interrupted.
    pub fn interrupt_all(&self) {
        let _ = self.sender.send(Message::InterruptAll);
    }

    /// Ends every job as interrupted and waits (up to `limit`) until the
    /// scheduler has dropped its model, so its memory is free; false if
    /// it did not say so in time.
    pub fn free_and_wait(self, limit: std::time::Duration) -> bool {
        let (told, heard) = std::sync::mpsc::channel();
        if self.sender.send(Message::Free(told)).is_err() {
            // The scheduler is gone, and its model with it.
            return true;
        }
        heard.recv_timeout(limit).is_ok()
    }

    /// Jobs waiting or running.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }
}
