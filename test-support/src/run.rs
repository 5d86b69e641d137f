//! A QUEUED run of an agent, as the trigger path creates it, for tests that store and send runs
//! themselves.

use std::sync::Arc;

use crewship_core::agent::Agent;
use crewship_core::ids::RunId;
use crewship_core::run::{AuthScheme, NewRun, Run};
use serde_json::value::RawValue;

/// A QUEUED run of `agent` with `payload` (JSON), created now.
pub fn queued_run(agent: &Agent, payload: &str) -> Run {
    Run::queued(
        agent,
        NewRun {
            id: RunId::generate(),
            event: "push".into(),
            source: "test".into(),
            auth_scheme: AuthScheme::Signature,
            delivery_id: None,
            payload: Arc::from(RawValue::from_string(payload.to_owned()).expect("JSON payload")),
        },
        time::OffsetDateTime::now_utc(),
    )
}
