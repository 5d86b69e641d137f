//! The handler on Lambda: the very router the local runner serves, under `lambda_http`, on the
//! adapters the environment chooses (DynamoDB, SQS, S3). Clients are built once per cold start.

use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_core::secret::Secret;
use crewship_lambda::env::{Env, init_tracing};
use handler::{AppState, HandlerConfig, Prerequisites};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let sdk = aws_sdk_config().await;
    let env = Env::load(&sdk).await?;
    let backends = Backends::from_vars(|name| env.get(name))?;
    let built = build_ports_with(&backends, &sdk);
    let mut config = HandlerConfig::new(
        env.get("CREWSHIP_INTERNAL_TOKEN").map(Secret::new),
        Prerequisites {
            orchestrator: Some(built.registry_name),
            container_runtime: env.get("CREWSHIP_CONTAINER_RUNTIME"),
            log_writer: Some(built.log_writer_name),
        },
    );
    config.tokens = env.api_tokens()?;
    // Live events travel through the WebSocket API, not this process.
    let state = AppState::new(built.ports, config, None);
    lambda_http::run(handler::router(state)).await
}
