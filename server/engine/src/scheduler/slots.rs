//! Which tokens each sequence slot's KV cache holds, and which free slot a
//! new request takes: the one whose cache shares the longest prefix with
//! its prompt, so the next turn of a chat finds its own slot again and only
//! its new tokens are computed, however many other chats are in flight.

struct Slot {
    /// The tokens whose keys and values are in the slot's cache, in order.
    tokens: Vec<u32>,
    busy: bool,
    /// When the slot was last taken (a counter), to keep recently used
    /// caches longest.
    last_taken: u64,
}

pub struct SlotTable {
    slots: Vec<Slot>,
    clock: u64,
}

fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl SlotTable {
    pub fn new(count: usize) -> Self {
        Self {
            slots: (0..count.max(1))
                .map(|_| Slot {
                    tokens: Vec::new(),
                    busy: false,
                    last_taken: 0,
                })
                .collect(),
            clock: 0,
        }
    }

    pub fn free(&self) -> usize {
        self.slots.iter().filter(|s| !s.busy).count()
    }

    /// Takes the free slot sharing the longest prefix with `prompt` (ties:
    /// the least recently used); returns it and the shared length.
    pub fn take(&mut self, prompt: &[u32]) -> Option<(usize, usize)> {
        let (index, shared) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.busy)
            .map(|(i, s)| (i, shared_prefix(&s.tokens, prompt)))
            .max_by_key(|&(i, shared)| (shared, std::cmp::Reverse(self.slots[i].last_taken)))?;
        self.clock += 1;
        let slot = &mut self.slots[index];
        slot.busy = true;
        slot.last_taken = self.clock;
        Some((index, shared))
    }

    /// The slot's cache now holds its first `start` tokens, then `tokens`.
    pub fn record(&mut self, slot: usize, start: usize, tokens: &[u32]) {
        let held = &mut self.slots[slot].tokens;
        held.truncate(start);
        held.extend_from_slice(tokens);
    }

    /// The slot's cache can no longer be trusted (a failed step).
    pub fn forget(&mut self, slot: usize) {
        self.slots[slot].tokens.clear();
    }

    /// The slot is free again; its cache stays for the next prompt to reuse.
    pub fn release(&mut self, slot: usize) {
        self.slots[slot].busy = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_finds_its_own_slot_again() {
        let mut slots = SlotTable::new(3);
        let chat_a = [1, 2, 3, 4];
        let chat_b = [1, 9, 9];
        let (a, shared) = slots.take(&chat_a).unwrap();
        assert_eq!(shared, 0);
        slots.record(a, 0, &chat_a);
        let (b, _) = slots.take(&chat_b).unwrap();
        slots.record(b, 0, &chat_b);
        assert_ne!(a, b);
        slots.release(a);
        slots.release(b);
        // A's next turn extends its prompt: it takes A's slot, not B's.
        let (again, shared) = slots.take(&[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!((again, shared), (a, 4));
        // B's next turn: slot b (shares 3), not the empty third slot.
        let (again_b, shared) = slots.take(&[1, 9, 9, 7]).unwrap();
        assert_eq!((again_b, shared), (b, 3));
        assert_eq!(slots.free(), 1);
    }

    #[test]
    fn without_a_shared_prefix_the_least_recently_used_slot_goes() {
        let mut slots = SlotTable::new(2);
        let (first, _) = slots.take(&[5]).unwrap();
        slots.record(first, 0, &[5]);
        slots.release(first);
        let (second, _) = slots.take(&[6]).unwrap();
        assert_ne!(first, second, "the untouched slot is older");
        slots.release(second);
        let (third, _) = slots.take(&[7]).unwrap();
        assert_eq!(third, first);
        let _ = slots.take(&[8]).unwrap();
        assert!(slots.take(&[9]).is_none(), "all busy");
    }
}
