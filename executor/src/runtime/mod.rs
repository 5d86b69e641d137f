//! Container runtime adapters.
//!
//! - [`process`]: local child processes, one working directory per crew, no isolation.
//! - [`keeper`]: the Keeper service over HTTP (docs/keeper.md).

pub mod keeper;
pub mod lines;
pub mod process;

pub use keeper::KeeperRuntime;
pub use process::ProcessRuntime;
