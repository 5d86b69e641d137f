//! AWS Lambda entry points over the same code the local runner serves.
//!
//! - [`sqs`] hands an SQS event's records to `Executor::handle` and reports partial batch
//!   failures, so one failing run never redelivers its batch-mates.
//! - [`env`] reads the functions' configuration, with secrets from SSM Parameter Store.
//! - The HTTP side needs no code of its own: `lambda_http::run(handler::router(state))` (bin
//!   `handler-lambda`); bins `executor-lambda` and `ws-lambda` are as thin.
//! - [`ws`] is the workspace WebSocket on API Gateway (bin `ws-lambda`) and the executor's
//!   broadcaster posting to its connections.

pub mod env;
pub mod sqs;
pub mod ws;
