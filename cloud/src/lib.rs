//! The cloud-path bins, thin: each loads its settings (docs/configuration.md), builds the ports
//! the `[store]` and `[queue]` sections choose (`crewship_aws::config`), and runs the handler or
//! the executor on them. The adapters crate stays free of the handler and the executor; this
//! crate joins them.
//!
//! - bin `crewship-server`: the handler's router as a plain HTTP server.
//! - bin `crewship-executor`: a long-lived queue consumer.
//! - bin `crewship-provision`: creates tables, queues and bucket; registers agents; and
//!   `crewship-provision dlq redrive|fail` empties the dead-letter queue ([`dlq`]).
//! - here: what the three share — logging and stopping on a signal.

pub mod dlq;

use crewship_settings::model::LogFormat;
use tokio_util::sync::CancellationToken;

/// Log lines on stderr, as `log.format` says, through the one set-up of every bin (the
/// dependencies' wire logs capped whatever `RUST_LOG` says).
pub fn init_tracing(format: LogFormat) {
    handler::telemetry::init_tracing(format.into());
}

/// Cancels `stop` on SIGTERM or Ctrl-C.
pub async fn stop_on_signal(stop: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    stop.cancel();
}
