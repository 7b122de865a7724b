//! A generational slab: connection storage whose ids can never reach a reused slot.
//!
//! A connection's id is its slot index plus the slot's *generation*, which increases
//! every time the slot is freed. An id held by the application (or another thread) after
//! its connection closed therefore fails to match when the slot is reused, and the call
//! answers [`SendError::Gone`](crate::SendError::Gone) instead of writing to a stranger.

/// Identifies one connection, and no other ever: a WebSocket for its whole life, an HTTP
/// connection for one request/response exchange (on keep-alive, the next request arrives
/// under a new id, so an answer meant for an earlier request can never answer a later one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// The slot index (stable while the connection lives; reused afterwards).
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when this connection was stored.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

impl std::fmt::Debug for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

#[derive(Debug)]
struct Slot<T> {
    /// Incremented when the slot is freed. INVARIANT: `value.is_some()` only for the
    /// current generation.
    generation: u32,
    value: Option<T>,
}

/// Slots of `T` addressed by [`ConnId`].
#[derive(Debug)]
pub struct Slab<T> {
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
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `make(id)` and returns its id.
    pub fn insert_with(&mut self, make: impl FnOnce(ConnId) -> T) -> ConnId {
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
        let id = ConnId {
            index,
            generation: slot.generation,
        };
        slot.value = Some(make(id));
        self.len += 1;
        id
    }

    /// The value for `id`, unless it was removed (or the id is stale).
    pub fn get(&self, id: ConnId) -> Option<&T> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.value.as_ref()
    }

    /// The value for `id`, mutably, unless it was removed (or the id is stale).
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// The id of the value currently in slot `index` (how an event's token finds it).
    pub fn id_at(&self, index: u32) -> Option<ConnId> {
        let slot = self.slots.get(index as usize)?;
        slot.value.as_ref().map(|_| ConnId {
            index,
            generation: slot.generation,
        })
    }

    /// Removes and returns the value for `id`; the slot's generation moves on.
    pub fn remove(&mut self, id: ConnId) -> Option<T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.len -= 1;
        Some(value)
    }

    /// Gives the value for `id` a new id in the same slot (the generation moves on), so
    /// `id` goes stale as if the value had been removed. Used to give each HTTP exchange
    /// on a keep-alive connection its own id.
    pub fn rekey(&mut self, id: ConnId) -> Option<ConnId> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation || slot.value.is_none() {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        Some(ConnId {
            index: id.index,
            generation: slot.generation,
        })
    }

    /// Ids of every stored value (a snapshot, so the slab may be changed while iterating).
    pub fn ids(&self) -> Vec<ConnId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| ConnId {
                index: i as u32,
                generation: s.generation,
            })
            .collect()
    }

    /// Every stored value with its id.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            s.value.as_mut().map(|v| {
                (
                    ConnId {
                        index: i as u32,
                        generation,
                    },
                    v,
                )
            })
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
    fn rekeyed_value_is_reachable_only_by_its_new_id() {
        let mut slab = Slab::new();
        let old = slab.insert_with(|_| "conn");
        let new = slab.rekey(old).unwrap();
        assert_ne!(old, new);
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.get(new), Some(&"conn"));
        assert_eq!(slab.id_at(new.index()), Some(new));
        assert_eq!(slab.rekey(old), None);
    }

    #[test]
    fn id_at_finds_the_current_occupant() {
        let mut slab = Slab::new();
        let a = slab.insert_with(|id| id);
        assert_eq!(slab.id_at(a.index()), Some(a));
        slab.remove(a);
        assert_eq!(slab.id_at(a.index()), None);
        assert_eq!(slab.len(), 0);
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
