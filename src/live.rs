//! What a reload of the config file changes while the server runs: a value read whole by each
//! request as it starts, and replaced whole by a reload. A request in flight keeps the value it
//! began with. What reloads and what needs a restart: docs/configuration.md, "Reloading
//! without a restart".

use std::sync::{Arc, PoisonError, RwLock};

/// A value swapped whole: readers get an `Arc` of the one current when they asked.
#[derive(Debug, Default)]
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    pub fn new(value: Arc<T>) -> Live<T> {
        Live(RwLock::new(value))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `value` in the current one's place; requests that already hold the old one keep it.
    pub fn set(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}
