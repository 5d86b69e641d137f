//! The WebSocket API's function: `$connect`, `$disconnect` and `$default` (see
//! `crewship_lambda::ws`). Settings from the environment (docs/configuration.md, binary
//! `ws-lambda`):
//!
//! - `CREWSHIP_CONNECTIONS_TABLE`: the connections table.
//! - `CREWSHIP_WS_ENDPOINT`: the stage's management endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
//! - `CREWSHIP_API_TOKENS` (or `CREWSHIP_API_TOKENS_SSM`): monitoring tokens, `workspace=token`
//!   pairs separated by commas.
//! - The `[store]` settings, for resume (runs, agents, logs).

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_lambda::env::{Env, init_tracing};
use crewship_lambda::ws::{ApiGatewayPoster, DynamoConnections, WsFunction};
use crewship_settings::Bin;
use handler::monitor::TokenSet;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sdk = aws_sdk_config().await;
    let settings = Env::load(&sdk, Bin::WsLambda)
        .await?
        .settings(Bin::WsLambda)?;
    init_tracing(settings.log.format);
    // Both are checked at load for this binary.
    let table = settings
        .ws
        .connections_table
        .clone()
        .context("ws.connections_table")?;
    let endpoint = settings.ws.endpoint.clone().context("ws.endpoint")?;
    let tokens: Vec<_> = settings.tokens()?.into_iter().map(|t| t.token).collect();
    // Resuming reads runs, agents and logs from the same stores the handler writes.
    let ports = build_ports_with(&Backends::from_settings(&settings)?, &sdk).ports;
    let function = Arc::new(WsFunction {
        tokens: TokenSet::new(&tokens),
        connections: Arc::new(DynamoConnections::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            table,
        )),
        poster: Arc::new(ApiGatewayPoster::from_env(&endpoint).await),
        ports,
    });
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let function = function.clone();
            async move { Ok::<_, lambda_runtime::Error>(function.handle(event.payload).await) }
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
