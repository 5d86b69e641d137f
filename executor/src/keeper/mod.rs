//! Keeper, the container runtime over the network (docs/keeper.md).
//!
//! - [`protocol`]: the wire types shared by the client and the server.
//! - `extract`: the server's token-first, JSON-rejecting extractors.
//! - [`server`]: the HTTP server serving the protocol on top of any local `ContainerRuntime`.
//! - [`tls`]: the server's certificate and key, for serving HTTPS.

mod extract;
pub mod protocol;
pub mod server;
pub mod tls;
