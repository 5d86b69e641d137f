//! The WebSocket API's function: `$connect`, `$disconnect` and `$default` (see
//! `crewship_lambda::ws`). Configuration from the environment:
//!
//! - `CREWSHIP_CONNECTIONS_TABLE`: the connections table.
//! - `CREWSHIP_WS_ENDPOINT`: the stage's management endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
//! - `CREWSHIP_API_TOKENS`: monitoring tokens, `token=workspace` pairs separated by commas.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::secret::Secret;
use crewship_lambda::ws::{ApiGatewayPoster, DynamoConnections, WsFunction};
use handler::ApiToken;
use handler::monitor::TokenSet;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    lambda_http::tracing::init_default_subscriber();
    let table = std::env::var("CREWSHIP_CONNECTIONS_TABLE")
        .context("CREWSHIP_CONNECTIONS_TABLE is not set")?;
    let endpoint =
        std::env::var("CREWSHIP_WS_ENDPOINT").context("CREWSHIP_WS_ENDPOINT is not set")?;
    let tokens = parse_tokens(&std::env::var("CREWSHIP_API_TOKENS").unwrap_or_default())?;
    let shared = aws_config::load_from_env().await;
    // Resuming reads runs, agents and logs. The DynamoDB adapters of those ports live in the
    // `crewship-aws` crate; until this bin is wired to them, the ports are empty and a resume
    // answers `no such run` (live frames are unaffected).
    let ports = MemoryPorts::new(Arc::new(MemoryRegistry::new([])), Duration::from_secs(30)).ports;
    let function = Arc::new(WsFunction {
        tokens: TokenSet::new(&tokens),
        connections: Arc::new(DynamoConnections::new(
            aws_sdk_dynamodb::Client::new(&shared),
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

fn parse_tokens(text: &str) -> anyhow::Result<Vec<ApiToken>> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (token, workspace) = pair
                .split_once('=')
                .context("CREWSHIP_API_TOKENS: expected token=workspace pairs")?;
            Ok(ApiToken {
                token: Secret::new(token.trim()),
                workspace_id: workspace
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("CREWSHIP_API_TOKENS: bad workspace id"))?,
            })
        })
        .collect()
}
