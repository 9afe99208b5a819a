//! tokio's tuning knobs as one value: validated once, applied to every flavour built.

use crate::Error;

/// The tokio builder settings a selection passes through. `None` keeps tokio's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Knobs {
    pub(crate) event_interval: Option<u32>,
    pub(crate) global_queue_interval: Option<u32>,
    pub(crate) max_io_events_per_tick: Option<usize>,
    pub(crate) max_blocking_threads: Option<usize>,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) thread_name: Option<String>,
    pub(crate) lifo_slot: Option<bool>,
}

impl Knobs {
    /// Rejects what tokio would panic on, so a bad value is an error and never a crash.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let zero = |knob| Err(Error::ZeroKnob { knob });
        if self.event_interval == Some(0) {
            return zero("event_interval");
        }
        if self.global_queue_interval == Some(0) {
            return zero("global_queue_interval");
        }
        if self.max_io_events_per_tick == Some(0) {
            return zero("max_io_events_per_tick");
        }
        if self.max_blocking_threads == Some(0) {
            return zero("max_blocking_threads");
        }
        if self.thread_stack_size == Some(0) {
            return zero("thread_stack_size");
        }
        if self.lifo_slot == Some(false) && !cfg!(tokio_unstable) {
            return Err(Error::NeedsTokioUnstable { knob: "lifo_slot" });
        }
        Ok(())
    }

    /// Applies every set knob; `validate` must have passed.
    pub(crate) fn apply(&self, builder: &mut tokio::runtime::Builder) {
        builder.enable_all();
        if let Some(n) = self.event_interval {
            builder.event_interval(n);
        }
        if let Some(n) = self.global_queue_interval {
            builder.global_queue_interval(n);
        }
        if let Some(n) = self.max_io_events_per_tick {
            builder.max_io_events_per_tick(n);
        }
        if let Some(n) = self.max_blocking_threads {
            builder.max_blocking_threads(n);
        }
        if let Some(n) = self.thread_stack_size {
            builder.thread_stack_size(n);
        }
        if let Some(name) = &self.thread_name {
            builder.thread_name(name.clone());
        }
        #[cfg(tokio_unstable)]
        if self.lifo_slot == Some(false) {
            builder.disable_lifo_slot();
        }
    }
}
