//! The replies in flight, whichever backend makes them: whose each one is
//! (its owner and request id), its [`Cancel`] flag so Stop can find it by
//! name, and the counters of finished replies. It lives in the server's
//! state, not in the engine, so a remote backend's replies are stopped and
//! counted the same way.

mod lead;
mod metrics;

use std::{
    collections::{HashMap, VecDeque},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use engine::{Cancel, EngineEvent, FinishReason};
use futures::Stream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use lead::LeadTrimmer;
pub use metrics::ReplyMetrics;

/// Whose a reply is and its request id: a reply can be stopped only by
/// its owner (a user under `--auth`; everyone shares the empty owner).
type ReplyKey = (String, String);

#[derive(Default)]
pub struct Replies {
    active: Mutex<HashMap<ReplyKey, Cancel>>,
    metrics: ReplyMetrics,
}

impl Replies {
    /// Registers `owner`'s reply `request_id`: its flag, and the handle
    /// that keeps it findable until the reply's stream is dropped.
    pub fn open(self: &Arc<Self>, owner: &str, request_id: &str) -> (Cancel, Registration) {
        let cancel = Cancel::default();
        let key = (owner.to_string(), request_id.to_string());
        self.lock().insert(key.clone(), cancel.clone());
        let registration = Registration {
            replies: self.clone(),
            key,
            ended: false,
        };
        (cancel, registration)
    }

    /// A reply fed by the caller (a remote backend): the sender to feed it,
    /// its flag, and the stream to hand out.
    pub fn channel(
        self: &Arc<Self>,
        owner: &str,
        request_id: &str,
    ) -> (UnboundedSender<EngineEvent>, Cancel, ReplyStream) {
        let (events, receiver) = unbounded_channel();
        let (cancel, registration) = self.open(owner, request_id);
        (events, cancel, ReplyStream::new(receiver, registration))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ReplyKey, Cancel>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends `owner`'s named reply before its next token.
    pub fn stop(&self, owner: &str, request_id: &str) -> bool {
        match self
            .lock()
            .get(&(owner.to_string(), request_id.to_string()))
        {
            Some(flag) => {
                flag.stop();
                true
            }
            None => false,
        }
    }

    /// Ends every reply of `owner`; returns how many.
    pub fn stop_owned_by(&self, owner: &str) -> usize {
        let active = self.lock();
        let mine: Vec<&Cancel> = active
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|(_, c)| c)
            .collect();
        mine.iter().for_each(|c| c.stop());
        mine.len()
    }

    /// Ends every reply as interrupted by the server (shutting down);
    /// returns how many.
    pub fn interrupt_all(&self) -> usize {
        let active = self.lock();
        active.values().for_each(Cancel::interrupt);
        active.len()
    }

    /// Replies in flight.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    pub fn metrics(&self) -> &ReplyMetrics {
        &self.metrics
    }
}

/// Keeps a reply's flag findable by id while its stream lives, and counts
/// the reply once when it ends.
pub struct Registration {
    replies: Arc<Replies>,
    key: ReplyKey,
    ended: bool,
}

impl Registration {
    /// Ends a registration that was not a reply (the tools a reply
    /// called, running under its request id so Stop finds them): it is
    /// not counted.
    pub fn close(mut self) {
        self.ended = true;
    }

    fn observe(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::Finished { reason, stats } => {
                self.replies.metrics.record(*reason, stats);
                self.ended = true;
            }
            EngineEvent::Failed(_) => {
                self.replies.metrics.record_failure();
                self.ended = true;
            }
            _ => {}
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.ended {
            // The requester went away before the reply ended.
            self.replies
                .metrics
                .record(FinishReason::Cancelled, &Default::default());
        }
        self.replies.lock().remove(&self.key);
    }
}

/// The events of one reply. Dropping it closes the channel, which the
/// backend notices before the next token. In the chat modes it also cleans
/// the reply's start (leading white space, a `Name:` the model wrote
/// anyway), for replies from either backend.
pub struct ReplyStream {
    receiver: UnboundedReceiver<EngineEvent>,
    registration: Registration,
    lead: Option<LeadTrimmer>,
    /// Events due before the next one received (the trimmer's held text
    /// ahead of the final event).
    ready: VecDeque<EngineEvent>,
}

impl ReplyStream {
    pub fn new(receiver: UnboundedReceiver<EngineEvent>, registration: Registration) -> Self {
        Self {
            receiver,
            registration,
            lead: None,
            ready: VecDeque::new(),
        }
    }

    /// Strips leading white space and one leading `Name:` for any of
    /// `names` from the reply's text (nothing when `names` is empty).
    pub fn trimming(mut self, names: &[String]) -> Self {
        if !names.is_empty() {
            self.lead = Some(LeadTrimmer::new(names));
        }
        self
    }

    /// What the consumer sees of `event`.
    fn shape(&mut self, event: EngineEvent) {
        let Some(lead) = &mut self.lead else {
            self.ready.push_back(event);
            return;
        };
        match event {
            EngineEvent::Text(text) => {
                let text = lead.push(&text);
                if !text.is_empty() {
                    self.ready.push_back(EngineEvent::Text(text));
                }
            }
            end @ (EngineEvent::Finished { .. } | EngineEvent::Failed(_)) => {
                let rest = lead.finish();
                if !rest.is_empty() {
                    self.ready.push_back(EngineEvent::Text(rest));
                }
                self.ready.push_back(end);
            }
            other => self.ready.push_back(other),
        }
    }
}

impl Stream for ReplyStream {
    type Item = EngineEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EngineEvent>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.ready.pop_front() {
                this.registration.observe(&event);
                return Poll::Ready(Some(event));
            }
            match this.receiver.poll_recv(cx) {
                Poll::Ready(Some(event)) => this.shape(event),
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request id names a reply only among its owner's: another user who
    /// learns (or guesses) it cannot stop it.
    #[test]
    fn only_the_owner_stops_a_reply() {
        let replies = Arc::new(Replies::default());
        let (cancel, _a) = replies.open("ann", "r1");
        let (b_cancel, _b) = replies.open("bob", "r1");
        assert!(!replies.stop("eve", "r1"));
        assert!(!cancel.is_set());
        assert!(replies.stop("ann", "r1"));
        assert_eq!(cancel.reason(), Some(FinishReason::Cancelled));
        assert!(!b_cancel.is_set(), "bob's reply of the same id runs on");
        assert_eq!(replies.stop_owned_by("bob"), 1);
        assert!(b_cancel.is_set());
    }

    /// Each reply is counted once: when its stream sees the end, or as
    /// stopped when it is dropped before.
    #[tokio::test]
    async fn replies_are_counted_once_when_they_end() {
        use futures::StreamExt;
        let replies = Arc::new(Replies::default());
        let (events, _cancel, mut stream) = replies.channel("", "a");
        events
            .send(EngineEvent::Finished {
                reason: FinishReason::Stop,
                stats: Default::default(),
            })
            .unwrap();
        assert!(stream.next().await.is_some());
        drop(stream);
        let (_events, _cancel, dropped) = replies.channel("", "b");
        assert_eq!(replies.count(), 1);
        drop(dropped);
        assert_eq!(replies.count(), 0);
        let mut text = String::new();
        replies.metrics().render(&mut text);
        assert!(text.contains("candlelight_requests_total 2\n"), "{text}");
        assert!(
            text.contains("candlelight_requests_cancelled_total 1\n"),
            "{text}"
        );
    }

    /// A chat-mode reply loses the `Name:` the model wrote anyway, split
    /// across pieces as tokens split it, whichever backend sent it.
    #[tokio::test]
    async fn a_leading_name_is_trimmed_from_the_stream() {
        use futures::StreamExt;
        let replies = Arc::new(Replies::default());
        let (events, _cancel, stream) = replies.channel("", "a");
        let mut stream = stream.trimming(&["AI助理".to_string()]);
        for piece in [" AI", "助理", ":", " 你好", "!"] {
            events.send(EngineEvent::Text(piece.into())).unwrap();
        }
        events
            .send(EngineEvent::Finished {
                reason: FinishReason::Stop,
                stats: Default::default(),
            })
            .unwrap();
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event {
                EngineEvent::Text(t) => text.push_str(&t),
                EngineEvent::Finished { .. } => break,
                _ => {}
            }
        }
        assert_eq!(text, "你好!");
    }
}
