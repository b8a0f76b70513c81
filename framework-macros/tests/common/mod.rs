//! A stand-in for the `xenolith` crate: just what `#[xenolith::main]` expands to. Its `start_async` runs
//! the future to completion and "powers off" by unwinding with a description of the result, so a test
//! can see what `main` returned and that the context reached it.
#![allow(dead_code)]

pub mod xenolith {
    /// The image manifest note: nothing to place in a host test binary.
    macro_rules! __manifest {
        () => {};
    }
    pub(crate) use __manifest;

    pub struct Context {
        pub id: u32,
    }

    pub mod __private {
        use std::fmt::Debug;
        use std::future::Future;
        use std::pin::pin;
        use std::task::{Context, Poll, Waker};

        pub struct Boot(pub u32);

        /// What `main` may return.
        pub trait MainOutput {
            fn describe(self) -> String;
        }
        impl MainOutput for () {
            fn describe(self) -> String {
                "()".into()
            }
        }
        impl<E: Debug> MainOutput for Result<(), E> {
            fn describe(self) -> String {
                format!("{self:?}")
            }
        }

        /// The "power-off": unwinds with this payload.
        pub struct Finished(pub String);

        pub fn start_async<F, Fut>(boot: Boot, f: F) -> !
        where
            F: FnOnce(super::Context) -> Fut,
            Fut: Future,
            Fut::Output: MainOutput,
        {
            let mut fut = pin!(f(super::Context { id: boot.0 }));
            let mut cx = Context::from_waker(Waker::noop());
            let mut polls = 0;
            let out = loop {
                polls += 1;
                if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                    break v;
                }
                assert!(polls < 100, "main never finished");
            };
            std::panic::panic_any(Finished(format!("{} after {polls} polls", out.describe())))
        }
    }
}

/// Calls the generated entry point and returns what `start_async` saw.
pub fn boot(entry: fn(xenolith::__private::Boot) -> !, id: u32) -> String {
    let payload = std::panic::catch_unwind(|| entry(xenolith::__private::Boot(id))).unwrap_err();
    match payload.downcast::<xenolith::__private::Finished>() {
        Ok(f) => f.0,
        Err(_) => panic!("the entry point panicked instead of powering off"),
    }
}

/// Pending once, then ready: proves `main` really runs as a future.
pub struct YieldOnce(pub bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}
