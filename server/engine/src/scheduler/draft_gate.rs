//! Whether a draft model's drafting pays, measured as it runs: the tokens
//! per second of decode steps with drafts against steps without, for each
//! number of replies decoding at once. Drafting costs the draft model's
//! forwards and a row of the check per drafted token; on a GPU checking is
//! nearly free and a small draft model is cheap, but on a two-core CPU a
//! draft model nearly as big as the model makes replies slower. So the
//! scheduler drafts only while drafted steps have
//! been faster, and tries the other way now and then to notice when that
//! changes (a reply starts repeating its prompt): after `FIRST_PROBE`
//! steps, then twice as long each time the try loses (a drafting step
//! costs several plain ones), up to `LAST_PROBE`.

/// Steps before the way that looks slower is tried again, at first and
/// at most.
const FIRST_PROBE: u32 = 16;
const LAST_PROBE: u32 = 128;
/// Weight of a new step in the running averages.
const NEW: f64 = 0.3;
/// Replies decoding at once are told apart up to this many.
const MAX_BATCH: usize = 16;

#[derive(Clone, Copy)]
struct Speeds {
    drafted: Option<f64>,
    plain: Option<f64>,
    /// Steps between tries of the slower way, and since the last one.
    probe_every: u32,
    since_probe: u32,
    /// A step allowed to draft could not be measured (its draft caches
    /// caught up first): the next one drafts again to measure it.
    draft_again: bool,
}

impl Speeds {
    fn prefers_drafting(&self) -> Option<bool> {
        Some(self.drafted? >= self.plain?)
    }
}

pub struct DraftGate {
    by_batch: Vec<Speeds>,
}

impl Default for DraftGate {
    fn default() -> Self {
        let speeds = Speeds {
            drafted: None,
            plain: None,
            probe_every: FIRST_PROBE,
            since_probe: 0,
            draft_again: false,
        };
        Self {
            by_batch: vec![speeds; MAX_BATCH + 1],
        }
    }
}

impl DraftGate {
    /// Whether the next step, with `decoding` replies decoding, drafts.
    /// Drafting is tried first; plain steps are measured once it has been.
    pub fn allows(&mut self, decoding: usize) -> bool {
        let speeds = &mut self.by_batch[decoding.min(MAX_BATCH)];
        if std::mem::take(&mut speeds.draft_again) {
            return true;
        }
        let preferred = match (speeds.drafted, speeds.plain) {
            (None, _) => return true,
            (Some(_), None) => return false,
            (Some(drafted), Some(plain)) => drafted >= plain,
        };
        speeds.since_probe += 1;
        if speeds.since_probe >= speeds.probe_every {
            speeds.since_probe = 0;
            !preferred
        } else {
            preferred
        }
    }

    /// A step of `decoding` replies, allowed to draft or not, gave
    /// `tokens` in `seconds` (drafting included); `None` where the step
    /// says nothing of drafting's cost (a prompt was read, a draft cache
    /// caught up).
    pub fn record(&mut self, decoding: usize, drafted: bool, measured: Option<(usize, f64)>) {
        let speeds = &mut self.by_batch[decoding.min(MAX_BATCH)];
        let Some((tokens, seconds)) = measured.filter(|&(t, s)| t > 0 && s > 0.0) else {
            speeds.draft_again |= drafted;
            return;
        };
        let before = speeds.prefers_drafting();
        let slot = if drafted {
            &mut speeds.drafted
        } else {
            &mut speeds.plain
        };
        let now = tokens as f64 / seconds;
        *slot = Some(slot.map_or(now, |old| (1.0 - NEW) * old + NEW * now));
        let tried_the_slower_way = before.is_some_and(|d| d != drafted);
        if tried_the_slower_way {
            speeds.probe_every = if speeds.prefers_drafting() == before {
                (speeds.probe_every * 2).min(LAST_PROBE)
            } else {
                FIRST_PROBE
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps that take `drafted_tps` or `plain_tps`: how many of 100
    /// steps drafted.
    fn drafted_steps(drafted_tps: f64, plain_tps: f64) -> usize {
        let mut gate = DraftGate::default();
        (0..100)
            .filter(|_| {
                let draft = gate.allows(1);
                let tps = if draft { drafted_tps } else { plain_tps };
                gate.record(1, draft, Some((4, 4.0 / tps)));
                draft
            })
            .count()
    }

    #[test]
    fn drafting_goes_on_while_it_is_faster_and_stops_when_it_is_not() {
        // The other way is tried after 16, 32, 64 steps.
        assert_eq!(drafted_steps(80.0, 50.0), 97);
        assert_eq!(drafted_steps(30.0, 50.0), 3);
    }

    #[test]
    fn each_batch_size_is_measured_on_its_own() {
        let mut gate = DraftGate::default();
        assert!(gate.allows(1));
        gate.record(1, true, Some((2, 1.0)));
        assert!(!gate.allows(1));
        gate.record(1, false, Some((4, 1.0)));
        assert!(!gate.allows(1));
        // Two at once: nothing measured yet, so drafting is tried.
        assert!(gate.allows(2));
    }

    /// A try whose draft caches first caught up is not measured: the next
    /// step drafts again, and that one is.
    #[test]
    fn a_try_that_caught_up_is_tried_again() {
        let mut gate = DraftGate::default();
        assert!(gate.allows(1));
        gate.record(1, true, None);
        assert!(gate.allows(1));
        gate.record(1, true, Some((2, 1.0)));
        assert!(!gate.allows(1));
        gate.record(1, false, Some((4, 1.0)));
        // Plain is faster: 16 steps until the next try, which caught up.
        let tried = (0..16).filter(|_| gate.allows(1)).count();
        assert_eq!(tried, 1);
        gate.record(1, true, None);
        assert!(gate.allows(1), "the try is measured on the next step");
    }
}
