//! The handler on Lambda: the very router the local runner serves, under `lambda_http`, on the
//! adapters the settings choose (DynamoDB, SQS, S3). Settings from the environment
//! (docs/configuration.md, binary `handler-lambda`); clients are built once per cold start.

use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_lambda::env::{Env, init_tracing};
use crewship_settings::Bin;
use handler::{AppState, HandlerConfig, Prerequisites};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let sdk = aws_sdk_config().await;
    let settings = Env::load(&sdk, Bin::HandlerLambda)
        .await?
        .settings(Bin::HandlerLambda)?;
    init_tracing(settings.log.format);
    let built = build_ports_with(&Backends::from_settings(&settings)?, &sdk);
    let tokens = settings.tokens()?.into_iter().map(|t| t.token).collect();
    let config = HandlerConfig::from_settings(
        &settings,
        tokens,
        Prerequisites {
            orchestrator: Some(built.registry_name),
            container_runtime: settings.server.container_runtime.clone(),
            log_writer: Some(built.log_writer_name),
        },
    );
    // Live events travel through the WebSocket API, not this process.
    let state = AppState::new(built.ports, config, None);
    lambda_http::run(handler::router(state)).await
}
