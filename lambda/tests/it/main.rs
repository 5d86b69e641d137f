//! The Lambda entry points' integration tests, one binary: API Gateway HTTP, WebSocket and SQS
//! events through the real functions, the WebSocket conformance suite on the Lambda path, the
//! connection store on moto. Shared helpers live in [`ws_support`], fixtures shared with other
//! crates in `crewship-test-support`.

mod ws_support;

mod http_events;
mod sqs_deferral;
mod sqs_events;
mod template_drift;
mod ws_broadcaster;
mod ws_conformance;
mod ws_dynamo;
mod ws_events;
