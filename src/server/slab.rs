//! A generational slab: connection storage whose ids can never reach a reused slot.
//!
//! A connection's id is its slot index plus the slot's *generation*, which increases
//! every time the slot is freed. An id held by the application (or another thread) after
//! its connection closed therefore fails to match when the slot is reused, and the call
//! answers [`SendError::Gone`](crate::SendError::Gone) instead of writing to a stranger.

use super::ids::ConnId;

#[derive(Debug)]
struct Slot<T> {
    /// Incremented when the slot is freed. INVARIANT: `value.is_some()` only for the
    /// current generation.
    generation: u32,
    value: Option<T>,
}

/// Slots of `T` addressed by [`ConnId`].
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Indices of empty slots, reused last-freed first.
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Number of stored values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `make(id)` and returns its id.
    pub(crate) fn insert_with(&mut self, make: impl FnOnce(ConnId) -> T) -> ConnId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        let id = ConnId::new(index, slot.generation);
        slot.value = Some(make(id));
        self.len += 1;
        id
    }

    /// The value for `id`, unless it was removed (or the id is stale).
    pub(crate) fn get(&self, id: ConnId) -> Option<&T> {
        let slot = self.slots.get(id.index() as usize)?;
        if slot.generation != id.generation() {
            return None;
        }
        slot.value.as_ref()
    }

    /// The value for `id`, mutably, unless it was removed (or the id is stale).
    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        let slot = self.slots.get_mut(id.index() as usize)?;
        if slot.generation != id.generation() {
            return None;
        }
        slot.value.as_mut()
    }

    /// Removes and returns the value for `id`; the slot's generation moves on.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<T> {
        let slot = self.slots.get_mut(id.index() as usize)?;
        if slot.generation != id.generation() {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index());
        self.len -= 1;
        Some(value)
    }

    /// Ids of every stored value (a snapshot, so the slab may be changed while iterating).
    pub(crate) fn ids(&self) -> Vec<ConnId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| ConnId::new(i as u32, s.generation))
            .collect()
    }

    /// Every stored value.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.value.as_ref())
    }

    /// Every stored value with its id.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            s.value
                .as_mut()
                .map(|v| (ConnId::new(i as u32, generation), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_id_never_reaches_a_reused_slot() {
        let mut slab = Slab::new();
        let old = slab.insert_with(|_| "first");
        assert_eq!(slab.remove(old), Some("first"));
        let new = slab.insert_with(|_| "second");
        assert_eq!(new.index(), old.index(), "the slot is reused");
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.get_mut(old), None);
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.get(new), Some(&"second"));
    }

    #[test]
    fn ids_lists_live_values_only() {
        let mut slab = Slab::new();
        let a = slab.insert_with(|_| 1);
        let b = slab.insert_with(|_| 2);
        slab.remove(a);
        assert_eq!(slab.ids(), vec![b]);
    }
}
