//! Bounded-concurrency maps: a sliding window of in-flight items with no chunk barrier.

mod builder;
mod engine;
mod input;
mod item;
mod reorder;
mod simple;
mod slots;

pub use builder::{ErrorPolicy, InTask, Indexed, MapBuilder, MapStream, Spawned, map, map_stream};
pub use engine::{CallFn, Launch};
pub use input::{Input, IterInput, StreamInput};
pub use item::{LocalItem, LocalItems, SpawnedItem, SpawnedItems};
pub use simple::{
    DEFAULT_WINDOW_FACTOR, MapOrdered, MapUnordered, ProcessAll, map_ordered, map_unordered,
    process_all,
};

/// Seals `Input` and `Launch`: only this crate implements them.
pub trait Sealed {}
