//! Which tokens each cache slot holds, and where a new request runs.
//!
//! Without copies between slots (`prefix_copy` off), a request takes the
//! free slot whose cache shares the longest prefix with its prompt, so the
//! next turn of a chat finds its own slot again.
//!
//! With copies (the prompt cache): the longest cached prefix is found in
//! any slot, running or not, and copied into the slot the request runs in,
//! unless the request can extend a free slot in place without throwing
//! away more than it reuses. So a second chat with the same character card
//! starts from the first chat's card while that one is still replying, and
//! an Impersonate that shares 38 tokens with a 746-token chat takes an
//! empty or old slot instead of overwriting that chat.

struct Slot {
    /// The tokens whose keys and values are in the slot's cache, in order.
    tokens: Vec<u32>,
    busy: bool,
    /// When the slot was last taken or copied from (a counter): the least
    /// recently used cache goes first.
    last_used: u64,
}

/// Where a request runs and what it starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub slot: usize,
    /// Prompt tokens the slot holds (after the copy, if any).
    pub shared: usize,
    /// Copy this slot's first `shared` positions into `slot` first.
    pub copy_from: Option<usize>,
}

pub struct SlotTable {
    slots: Vec<Slot>,
    clock: u64,
}

pub fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Fewer cached tokens than this are not worth a copy (a template's
/// first line): they are read again.
const MIN_COPY: usize = 16;

/// A free slot may be extended in place if it would lose at most this
/// many tokens, or at most as many as it reuses.
const IN_PLACE_LOSS: usize = 64;

impl SlotTable {
    pub fn new(count: usize) -> Self {
        Self {
            slots: (0..count.max(1))
                .map(|_| Slot {
                    tokens: Vec::new(),
                    busy: false,
                    last_used: 0,
                })
                .collect(),
            clock: 0,
        }
    }

    /// The longest prefix of `prompt` any slot holds (running or not).
    pub fn longest_cached(&self, prompt: &[u32]) -> usize {
        self.slots
            .iter()
            .map(|s| shared_prefix(&s.tokens, prompt))
            .max()
            .unwrap_or(0)
    }

    /// Takes a free slot for `prompt` (see the module's doc); `copy` says
    /// whether the backend can copy between slots.
    pub fn take(&mut self, prompt: &[u32], copy: bool) -> Option<Choice> {
        let shared: Vec<usize> = self
            .slots
            .iter()
            .map(|s| shared_prefix(&s.tokens, prompt))
            .collect();
        // The free slot sharing the most (ties: the least recently used).
        let own = (0..self.slots.len())
            .filter(|&i| !self.slots[i].busy)
            .max_by_key(|&i| (shared[i], std::cmp::Reverse(self.slots[i].last_used)))?;
        let choice = if !copy {
            Choice {
                slot: own,
                shared: shared[own],
                copy_from: None,
            }
        } else {
            self.choose_with_copy(own, &shared)
        };
        self.clock += 1;
        if let Some(source) = choice.copy_from {
            self.slots[source].last_used = self.clock;
        }
        let slot = &mut self.slots[choice.slot];
        slot.busy = true;
        slot.last_used = self.clock;
        Some(choice)
    }

    fn choose_with_copy(&self, own: usize, shared: &[usize]) -> Choice {
        // The best source anywhere; the free slot wins a tie (no copy).
        let source = (0..self.slots.len())
            .max_by_key(|&i| (shared[i], i == own))
            .unwrap_or(own);
        let lost = self.slots[own].tokens.len() - shared[own];
        if shared[source] == shared[own] && lost <= shared[own].max(IN_PLACE_LOSS) {
            return Choice {
                slot: own,
                shared: shared[own],
                copy_from: None,
            };
        }
        // Run where the least is lost: an empty slot, else the least
        // recently used one.
        let target = (0..self.slots.len())
            .filter(|&i| !self.slots[i].busy)
            .min_by_key(|&i| (!self.slots[i].tokens.is_empty(), self.slots[i].last_used))
            .unwrap_or(own);
        if source == target || shared[source] <= shared[target].max(MIN_COPY - 1) {
            return Choice {
                slot: target,
                shared: shared[target],
                copy_from: None,
            };
        }
        Choice {
            slot: target,
            shared: shared[source],
            copy_from: Some(source),
        }
    }

    /// The slot's cache now holds its first `start` tokens, then `tokens`.
    pub fn record(&mut self, slot: usize, start: usize, tokens: &[u32]) {
        let held = &mut self.slots[slot].tokens;
        held.truncate(start);
        held.extend_from_slice(tokens);
    }

    /// The slot's cache can no longer be trusted (a failed step), or was
    /// freed.
    pub fn forget(&mut self, slot: usize) {
        self.slots[slot].tokens.clear();
    }

    /// The slot is free again; its cache stays for the next prompt to reuse.
    pub fn release(&mut self, slot: usize) {
        self.slots[slot].busy = false;
    }

    /// The free slot holding tokens that was used least recently (other
    /// than `keep`): the next one to free when the cache needs room.
    pub fn evictable(&self, keep: Option<usize>) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| !self.slots[i].busy && !self.slots[i].tokens.is_empty())
            .filter(|&i| Some(i) != keep)
            .min_by_key(|&i| self.slots[i].last_used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(slots: &mut SlotTable, prompt: &[u32], copy: bool) -> (usize, usize) {
        let c = slots.take(prompt, copy).unwrap();
        assert_eq!(c.copy_from, None);
        (c.slot, c.shared)
    }

    #[test]
    fn a_chat_finds_its_own_slot_again() {
        for copy in [false, true] {
            let mut slots = SlotTable::new(3);
            let chat_a = [1, 2, 3, 4];
            let chat_b = [2, 9, 9];
            let (a, shared) = take(&mut slots, &chat_a, copy);
            assert_eq!(shared, 0);
            slots.record(a, 0, &chat_a);
            let (b, _) = take(&mut slots, &chat_b, copy);
            slots.record(b, 0, &chat_b);
            assert_ne!(a, b);
            slots.release(a);
            slots.release(b);
            // A's next turn extends its prompt: it takes A's slot, not B's.
            let (again, shared) = take(&mut slots, &[1, 2, 3, 4, 5, 6], copy);
            assert_eq!((again, shared), (a, 4));
            // B's next turn: slot b (shares 3), not the empty third slot.
            let (again_b, shared) = take(&mut slots, &[2, 9, 9, 7], copy);
            assert_eq!((again_b, shared), (b, 3));
            // One slot is left.
            assert!(slots.take(&[7], copy).is_some());
            assert!(slots.take(&[8], copy).is_none());
        }
    }

    #[test]
    fn without_a_shared_prefix_the_least_recently_used_slot_goes() {
        let mut slots = SlotTable::new(2);
        let (first, _) = take(&mut slots, &[5], false);
        slots.record(first, 0, &[5]);
        slots.release(first);
        let (second, _) = take(&mut slots, &[6], false);
        assert_ne!(first, second, "the untouched slot is older");
        slots.release(second);
        let (third, _) = take(&mut slots, &[7], false);
        assert_eq!(third, first);
        let _ = slots.take(&[8], false).unwrap();
        assert!(slots.take(&[9], false).is_none(), "all busy");
    }

    #[test]
    fn a_running_slots_prefix_is_copied_into_a_free_one() {
        let mut slots = SlotTable::new(3);
        let card: Vec<u32> = (1..=500).collect();
        let (first, _) = take(&mut slots, &card, true);
        slots.record(first, 0, &card);
        // The first chat is still running; the second shares its card.
        let mut second_prompt = card.clone();
        second_prompt.extend([7, 7]);
        let c = slots.take(&second_prompt, true).unwrap();
        assert_ne!(c.slot, first);
        assert_eq!((c.shared, c.copy_from), (500, Some(first)));
        // Without copies it would start from nothing.
        let mut plain = SlotTable::new(3);
        let (p, _) = take(&mut plain, &card, false);
        plain.record(p, 0, &card);
        assert_eq!(take(&mut plain, &second_prompt, false).1, 0);
    }

    #[test]
    fn a_long_prompt_is_not_overwritten_by_one_that_shares_little_of_it() {
        let mut slots = SlotTable::new(2);
        let chat: Vec<u32> = (1..=746).collect();
        let (a, _) = take(&mut slots, &chat, true);
        slots.record(a, 0, &chat);
        slots.release(a);
        // An Impersonate sharing 38 tokens runs in the empty slot...
        let mut impersonate: Vec<u32> = chat[..38].to_vec();
        impersonate.extend(1000..1700);
        let c = slots.take(&impersonate, true).unwrap();
        assert_ne!(c.slot, a);
        assert_eq!((c.shared, c.copy_from), (38, Some(a)));
        slots.record(c.slot, 0, &impersonate);
        slots.release(c.slot);
        // ...so the next turn of the chat still finds all of it.
        let mut next = chat.clone();
        next.extend([5, 6]);
        assert_eq!(take(&mut slots, &next, true), (a, 746));
    }

    #[test]
    fn a_regeneration_extends_its_slot_in_place() {
        let mut slots = SlotTable::new(2);
        let prompt: Vec<u32> = (1..=300).collect();
        let mut with_reply = prompt.clone();
        with_reply.extend(900..1100);
        let (a, _) = take(&mut slots, &prompt, true);
        slots.record(a, 0, &with_reply);
        slots.release(a);
        // It loses the 200-token reply, less than the 300 it reuses.
        assert_eq!(take(&mut slots, &prompt, true), (a, 300));
    }

    #[test]
    fn eviction_takes_the_least_recently_used_free_cache() {
        let mut slots = SlotTable::new(3);
        for prompt in [[1u32], [2], [3]] {
            let (s, _) = take(&mut slots, &prompt, true);
            slots.record(s, 0, &prompt);
            slots.release(s);
        }
        let oldest = slots.evictable(None).unwrap();
        slots.forget(oldest);
        let next = slots.evictable(None).unwrap();
        assert_ne!(next, oldest);
        // A running slot is never offered, nor the one kept.
        let (busy, _) = take(&mut slots, &[3, 9], true);
        assert_eq!(slots.evictable(None), Some(next));
        assert_eq!(slots.evictable(Some(next)), None);
        slots.forget(next);
        assert_eq!(
            slots.evictable(None),
            None,
            "only the running slot {busy} holds tokens"
        );
    }
}
