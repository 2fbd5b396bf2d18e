//! Typed per-cycle state: each plugin stores its own struct (keyed by type), computed in
//! PreFilter or PreScore and read by Filter or Score for every node. Preemption clones the
//! state to simulate removing pods from a node without disturbing the real cycle.

use std::any::{Any, TypeId};

/// Data a plugin keeps in the cycle state.
pub trait StateData: Any + Send + Sync {
    /// A boxed copy (preemption clones the whole state per candidate node).
    fn clone_box(&self) -> Box<dyn StateData>;
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The state of one scheduling cycle.
#[derive(Default)]
pub struct CycleState {
    /// A handful of entries: a linear scan beats hashing.
    data: Vec<(TypeId, Box<dyn StateData>)>,
    /// Plugins (by index in the framework) whose PreFilter returned Skip: their Filter and
    /// PreFilter extensions are not run.
    pub skip_filter: u64,
    /// Plugins whose PreScore returned Skip: their Score is not run.
    pub skip_score: u64,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        Self {
            data: self
                .data
                .iter()
                .map(|(k, v)| (*k, v.as_ref().clone_box()))
                .collect(),
            skip_filter: self.skip_filter,
            skip_score: self.skip_score,
        }
    }
}

impl CycleState {
    /// Stores `value`, replacing any earlier value of its type.
    pub fn write<T: StateData>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        match self.data.iter_mut().find(|(k, _)| *k == id) {
            Some((_, v)) => *v = Box::new(value),
            None => self.data.push((id, Box::new(value))),
        }
    }

    /// The stored value of type `T`.
    pub fn read<T: StateData>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.data
            .iter()
            .find(|(k, _)| *k == id)
            .and_then(|(_, b)| b.as_ref().as_any().downcast_ref::<T>())
    }

    /// The stored value of type `T`, mutably.
    pub fn read_mut<T: StateData>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.data
            .iter_mut()
            .find(|(k, _)| *k == id)
            .and_then(|(_, b)| b.as_mut().as_any_mut().downcast_mut::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Counts(u32);

    #[test]
    fn typed_read_write_and_clone() {
        let mut s = CycleState::default();
        assert!(s.read::<Counts>().is_none());
        s.write(Counts(1));
        let copy = s.clone();
        if let Some(c) = s.read_mut::<Counts>() {
            c.0 = 2;
        }
        assert_eq!(s.read::<Counts>(), Some(&Counts(2)));
        assert_eq!(copy.read::<Counts>(), Some(&Counts(1)));
    }
}
