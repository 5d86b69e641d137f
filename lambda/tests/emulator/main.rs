//! The cloud path end to end, as deployed by `template.yaml` but on one machine: the four
//! Lambda bins (the debug builds `cargo test` makes) under cargo-lambda's Runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`), against moto for DynamoDB, SQS, S3 and SSM. What
//! AWS itself provides is played by the test, and kept small: the SQS event source mapping
//! ([`event_source`]) and API Gateway's WebSocket side ([`api_gateway`]).
//!
//! - [`emulator`]: the emulator (cargo-lambda pinned in `.venv-cargo-lambda`) and the
//!   functions' instances under it.
//! - [`stack`]: provisioning, and each function's environment resolved from the template.
//! - [`http`]: the handler's API through its function URL.
//! - [`cloud_path`]: a signed webhook to a COMPLETED run, its logs and its live frames.
//! - [`deferral`]: two runs of an agent capped at one both complete; nothing is dead-lettered.
//! - [`callbacks`]: a finished run's signed callback, retried by visibility, and the sweep.

mod api_gateway;
mod emulator;
mod event_source;
mod http;
mod stack;

mod callbacks;
mod cloud_path;
mod deferral;

use serde_json::{Value, json};

/// A `command` agent of workspace [`stack::WORKSPACE`] running `sh -c script`, as registered
/// through the internal API.
fn command_agent(id: &str, script: &str, max_concurrent_runs: u32) -> Value {
    json!({
        "id": id,
        "crew_id": "crew",
        "workspace_id": stack::WORKSPACE,
        "name": id,
        "adapter": "command",
        "command": ["sh", "-c", script],
        "max_concurrent_runs": max_concurrent_runs,
    })
}
