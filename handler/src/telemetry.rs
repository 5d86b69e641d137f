//! The one tracing set-up of every bin. `RUST_LOG` chooses the levels, except that the
//! dependencies which log what crosses the wire (frames, headers, bodies: tokens, secrets and
//! signatures among them) are capped below `debug` whatever it says. The cap is a second filter
//! ANDed with `RUST_LOG`'s, so no directive of `RUST_LOG` can lift it.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Targets (and their sub-modules) that log payloads at `debug` or `trace`: WebSocket frames
/// (the `auth` frame's token), HTTP heads and bodies, the AWS SDK's signed requests, the Lambda
/// runtime's raw events and the Docker Engine client's request bodies (an exec's environment).
/// Their `info` and above carry no payload.
pub const CAPPED_TARGETS: &[&str] = &[
    "bollard",
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_config",
    "aws_sdk_dynamodb",
    "aws_sdk_sqs",
    "aws_sdk_s3",
    "aws_sdk_ssm",
    "aws_sdk_apigatewaymanagement",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines on stderr (colours only on a terminal).
    Human,
    /// One JSON object a line on stderr.
    Json,
    /// JSON on stdout without timestamps, as CloudWatch Logs adds its own (Lambda).
    JsonWithoutTime,
    /// Human-readable lines on stdout without timestamps (Lambda, `log.format = "human"`).
    HumanWithoutTime,
}

impl From<crewship_settings::model::LogFormat> for LogFormat {
    fn from(format: crewship_settings::model::LogFormat) -> Self {
        match format {
            crewship_settings::model::LogFormat::Json => Self::Json,
            crewship_settings::model::LogFormat::Human => Self::Human,
        }
    }
}

impl LogFormat {
    /// `json` or anything else (human).
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("json") {
            Self::Json
        } else {
            Self::Human
        }
    }
}

/// The filter: `RUST_LOG` (default `info`) AND the caps of [`CAPPED_TARGETS`].
pub fn filter() -> impl tracing_subscriber::layer::Filter<tracing_subscriber::Registry> {
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    env.and(caps())
}

fn caps() -> Targets {
    CAPPED_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::INFO),
    )
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init_tracing(format: LogFormat) {
    let writer = std::io::stderr;
    let layer = match format {
        LogFormat::Human => fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(writer).boxed(),
        LogFormat::JsonWithoutTime => fmt::layer()
            .json()
            .without_time()
            .with_writer(std::io::stdout)
            .boxed(),
        LogFormat::HumanWithoutTime => fmt::layer()
            .without_time()
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter()))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn capped_targets_stay_at_info_under_any_level() {
        let caps = caps();
        assert!(!caps.would_enable("tungstenite::protocol", &Level::TRACE));
        assert!(!caps.would_enable("hyper::proto::h1::io", &Level::DEBUG));
        assert!(caps.would_enable("hyper", &Level::INFO));
        assert!(caps.would_enable("handler::trigger", &Level::TRACE));
        assert!(caps.would_enable("executor", &Level::TRACE));
    }
}
