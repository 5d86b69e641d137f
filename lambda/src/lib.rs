//! AWS Lambda entry points over the same code the local runner serves.
//!
//! - [`sqs`] hands an SQS event's records to `Executor::handle` and reports partial batch
//!   failures, so one failing run never redelivers its batch-mates.
//! - [`env`] reads the functions' environment, with secrets from SSM Parameter Store, and loads
//!   the settings from it through the loader every binary uses (docs/configuration.md).
//! - The HTTP side needs no code of its own: `lambda_http::run(handler::router(state))` (bin
//!   `handler-lambda`); bins `executor-lambda` and `ws-lambda` are as thin.
//! - [`ws`] is the workspace WebSocket on API Gateway (bin `ws-lambda`) and the executor's
//!   broadcaster posting to its connections; its DynamoDB table uses `crewship_aws`'s item
//!   helpers.

pub mod env;
pub mod sqs;
pub mod ws;
