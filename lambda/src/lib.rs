//! AWS Lambda entry points over the same code the local runner serves.
//!
//! - [`sqs`] hands an SQS event's records to `Executor::handle` and reports partial batch
//!   failures, so one failing run never redelivers its batch-mates.
//! - The HTTP side needs no code of its own: `lambda_http::run(handler::router(state))`.
//! - [`ws`] is the workspace WebSocket on API Gateway (bin `ws-lambda`) and the executor's
//!   broadcaster posting to its connections.

pub mod sqs;
pub mod ws;
