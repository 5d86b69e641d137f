//! What the queue-driven functions are invoked with: a batch of messages from their SQS event
//! source, or the EventBridge schedule that makes them sweep (the executor: `Executor::sweep`,
//! the same code the long-running executors run every lease; the callback function: the
//! outbox's due callbacks that have no message).

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

/// How often the template's schedule invokes the sweep (`rate(5 minutes)` in template.yaml;
/// a test holds the two together).
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// The schedule's expression in template.yaml.
pub const SWEEP_SCHEDULE: &str = "rate(5 minutes)";

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// Tried first: SQS events have neither field, so they never match.
    Sweep(ScheduledEvent),
    Queue(SqsEvent),
}

/// The part of an EventBridge scheduled event that identifies it.
#[derive(Debug, Deserialize)]
pub struct ScheduledEvent {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ExecutorResponse {
    Batch(SqsBatchResponse),
    Swept { lost: usize, requeued: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_event_sweeps_and_an_sqs_event_is_a_batch() {
        let scheduled = r#"{"version":"0","id":"x","detail-type":"Scheduled Event",
            "source":"aws.events","account":"1","time":"2026-12-01T00:00:00Z",
            "region":"us-east-1","resources":[],"detail":{}}"#;
        assert!(matches!(
            serde_json::from_str(scheduled).unwrap(),
            Invocation::Sweep(ScheduledEvent { source, .. }) if source == "aws.events"
        ));
        let sqs = r#"{"Records":[{"messageId":"m","receiptHandle":"r",
            "body":"{\"v\":\"1\",\"run_id\":\"run_1\"}","attributes":{},
            "messageAttributes":{},"eventSource":"aws:sqs"}]}"#;
        assert!(matches!(
            serde_json::from_str(sqs).unwrap(),
            Invocation::Queue(e) if e.records.len() == 1
        ));
    }

    #[test]
    fn the_template_schedules_the_sweep_as_often_as_the_code_assumes() {
        let template = include_str!("../../template.yaml");
        assert!(
            template.contains(&format!("Schedule: {SWEEP_SCHEDULE}")),
            "template.yaml must schedule the executor's sweep with {SWEEP_SCHEDULE}"
        );
        assert_eq!(
            SWEEP_SCHEDULE,
            format!("rate({} minutes)", SWEEP_EVERY.as_secs() / 60)
        );
    }
}
