//! What the executor needs from the machine: a clock, a one-shot timer, event delivery and a way to
//! block. On Xen it is implemented over the PV clock, `VCPUOP_set_singleshot_timer`, the event channel
//! pending bits and `SCHEDOP_block`; host tests use a fake with a virtual clock.

/// The executor's view of the platform. See the [module docs](super) for how `run` uses it.
pub trait Platform {
    /// Monotonic nanoseconds since boot.
    fn now_ns(&self) -> u64;
    /// Arms the one-shot timer for an absolute deadline (None: disarm).
    fn set_timer(&self, deadline_ns: Option<u64>);
    /// Calls `f` for each event-channel port that fired since the last call (clears them), fairly.
    fn drain_events(&self, f: &mut dyn FnMut(u32));
    /// Blocks the vCPU until an event or the timer fires. Returns at once if something is pending.
    fn wait_for_event(&self);
}
