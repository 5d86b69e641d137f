//! The handler's integration tests, one binary: the real router in process over the in-memory
//! ports, plus `/ws` over real TCP. Shared helpers live in [`common`]; fixtures shared with other
//! crates in `crewship-test-support`.

mod common;

mod agents;
mod dashboard;
mod error_bodies;
mod event_filters;
mod fuzz;
mod fuzz_seeds;
mod ingress_admission;
mod ingress_auth;
mod ingress_concurrency;
mod ingress_dedup;
mod ingress_doc_vectors;
mod ingress_fuzz;
mod ingress_logs;
mod ingress_request;
mod json_errors;
mod monitoring;
mod replay;
mod skeleton;
mod ws_local;
