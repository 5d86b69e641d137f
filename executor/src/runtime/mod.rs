//! Container runtime adapters.
//!
//! - [`process`]: local child processes, one working directory per crew, no isolation.
//! - [`program`]: resolving a bare program name on the child's PATH (keeps spawning cheap).

pub mod lines;
pub mod process;
pub mod program;

pub use process::ProcessRuntime;
