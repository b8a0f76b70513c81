//! The executor loop.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use super::platform::Platform;
use super::runtime::{Installed, Shared};
use super::task::TaskSet;
use super::waker::{TaskWaker, MAIN_TASK};

/// Runs `main` and every task spawned meanwhile until `main` completes; returns its output. Tasks still
/// unfinished then are dropped.
///
/// Each turn of the loop: the ports that fired (from [`Platform::drain_events`]) wake their waiters, the
/// timers due wake theirs, then one round polls every task that was ready at its start, in FIFO order of
/// waking, each once (a task woken during the round, even by itself, waits for the next round, so a task
/// that keeps yielding cannot starve the others, nor events and timers). When no task is ready, the timer
/// is armed for the nearest deadline (disarmed if none) and the vCPU blocks in
/// [`Platform::wait_for_event`]; nothing is polled until an event or the timer ends the wait.
///
/// `P: Send + 'static` because the futures reach the clock through a global while `run` is active.
///
/// # Panics
/// When called inside `run` (executors do not nest), and on a deadlock: no task ready, no timer pending
/// and no future waiting for an event, so nothing could ever wake `main` (a report beats a silent hang).
pub fn run<P, F>(platform: P, main: F) -> F::Output
where
    P: Platform + Send + 'static,
    F: Future,
{
    let shared = Arc::new(Shared::new(Box::new(platform)));
    let _installed = Installed::new(shared.clone());
    // Dropped before `_installed` (reverse order): unfinished tasks see the executor in their destructors.
    let mut tasks = TaskSet::default();
    let mut main = pin!(main);
    let main_header = TaskWaker::new(MAIN_TASK, shared.ready.clone());
    let main_waker = Waker::from(main_header.clone());
    main_header.schedule();

    let mut woken = Vec::new();
    loop {
        deliver_events(&shared, &mut woken);
        fire_timers(&shared, &mut woken);

        let round = shared.ready.len();
        if round == 0 {
            idle(&shared, tasks.len());
            continue;
        }
        tasks.adopt_spawned(&shared);
        for _ in 0..round {
            let Some(id) = shared.ready.pop() else { break };
            if id != MAIN_TASK {
                tasks.poll(id);
                continue;
            }
            main_header.begin_poll();
            if let Poll::Ready(out) = main.as_mut().poll(&mut Context::from_waker(&main_waker)) {
                main_header.retire();
                return out;
            }
        }
    }
}

/// Wakes the waiters of the ports that fired since the last call.
fn deliver_events(shared: &Shared, woken: &mut Vec<Waker>) {
    shared.with_platform(|p| {
        p.drain_events(&mut |port| shared.events.lock().fire(port, woken));
    });
    woken.drain(..).for_each(Waker::wake);
}

/// Wakes the sleepers whose deadline has come.
fn fire_timers(shared: &Shared, woken: &mut Vec<Waker>) {
    let now = shared.now_ns();
    shared.timers.lock().expire(now, woken);
    woken.drain(..).for_each(Waker::wake);
}

/// Nothing is ready: arm the timer for the nearest deadline and block until an event or the timer.
///
/// The timer is set before every block, even to an unchanged deadline: after a wake-up the executor
/// cannot tell whether the timer fired (the guest's clock may read a hair before a deadline the
/// hypervisor already honoured), and trusting a timer that is gone would block forever. One hypercall
/// per idle period is cheap next to the block itself.
fn idle(shared: &Shared, spawned_tasks: usize) {
    let next = shared.timers.lock().next_deadline();
    if next.is_none() && !shared.events.lock().has_waiters() {
        panic!(
            "xenolith executor: deadlock: no task is ready, no timer is pending and no task waits for an \
             event, so nothing can wake the main task ({spawned_tasks} spawned tasks are stuck too)"
        );
    }
    shared.with_platform(|p| {
        if let Some(deadline) = next {
            if deadline <= p.now_ns() {
                return; // due already: the loop fires it without blocking
            }
        }
        p.set_timer(next);
        p.wait_for_event();
    });
}
