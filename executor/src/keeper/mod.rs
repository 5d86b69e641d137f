//! Keeper, the container runtime over the network (docs/keeper.md).
//!
//! - [`protocol`]: the wire types shared by the client and the server.
//! - [`server`]: the HTTP server serving the protocol on top of any local `ContainerRuntime`.

pub mod protocol;
pub mod server;
