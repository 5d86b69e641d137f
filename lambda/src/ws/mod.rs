//! The workspace WebSocket on API Gateway (a WebSocket API in front of a Lambda), speaking the same protocol as the local `/ws` through the shared
//! [`Session`](handler::ws::protocol::Session). See `docs/websocket-cloud.md`.
//!
//! - [`connections`]: the connection record persisted between invocations, the
//!   [`ConnectionStore`](connections::ConnectionStore) port and its in-memory adapter.
//! - [`dynamo`]: the store on DynamoDB (key `connection_id`, GSI by workspace, TTL).
//! - [`table`]: creating its table as the template declares it.
//! - [`poster`]: `PostToConnection` / `DeleteConnection` behind the [`Poster`](poster::Poster) port.
//! - [`function`]: the `$connect` / `$disconnect` / `$default` routes.
//! - [`resume`]: `subscribe` with `after`, handed over gap-free to live delivery.
//! - [`broadcaster`]: the executor's [`Broadcaster`](crewship_core::broadcast::Broadcaster)
//!   posting to subscribed connections from a bounded background queue.
//! - [`limits`]: API Gateway's message size limits applied to frames.

pub mod broadcaster;
pub mod connections;
pub mod dynamo;
pub mod function;
pub mod limits;
pub mod poster;
pub mod resume;
pub mod table;

pub use broadcaster::ApiGatewayBroadcaster;
pub use connections::{ConnectionRecord, ConnectionStore, MemoryConnections};
pub use dynamo::DynamoConnections;
pub use function::WsFunction;
pub use poster::{ApiGatewayPoster, PostError, Poster};
