//! Container runtime adapters.
//!
//! - [`process`]: local child processes, one working directory per crew, no isolation.

pub mod lines;
pub mod process;

pub use process::ProcessRuntime;
