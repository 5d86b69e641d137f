//! AWS Lambda entry points over the same code the local runner serves.
//!
//! - [`sqs`] hands an SQS event's records to `Executor::handle` and reports partial batch
//!   failures, so one failing run never redelivers its batch-mates.
//! - [`event`] tells a queue-driven function's two invocations apart: a batch of messages, or
//!   the schedule that makes it sweep.
//! - [`callbacks`] delivers completion callbacks named by the callbacks queue's messages, and
//!   sweeps the outbox (bin `callback-lambda`).
//! - [`access`] is the table of each function's secrets and AWS operations, which template.yaml
//!   is held to.
//! - [`env`] reads the functions' environment, with its own secrets from SSM Parameter Store, and loads
//!   the settings from it through the loader every binary uses (docs/configuration.md).
//! - The HTTP side needs no code of its own: `lambda_http::run(handler::router(state))` (bin
//!   `handler-lambda`); bins `executor-lambda`, `ws-lambda` and `callback-lambda` are as thin.
//! - [`ws`] is the workspace WebSocket on API Gateway (bin `ws-lambda`) and the executor's
//!   broadcaster posting to its connections; its DynamoDB table uses `crewship_aws`'s item
//!   helpers.

pub mod access;
pub mod callbacks;
pub mod env;
pub mod event;
pub mod sqs;
pub mod ws;
