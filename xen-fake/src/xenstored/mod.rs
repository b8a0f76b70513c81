//! A fake xenstored.

mod hostile;
mod server;
mod store;

pub use hostile::Hostile;
pub use server::{FakeXenstored, Received, XenstoredThread};
pub use store::{perm, Changes, Node, Tree};
