//! The executor on the SQS event source: each record goes through the same `Executor::handle`
//! the long-running executors use; failures are reported per record. Invoked by the template's
//! schedule instead, it sweeps (`Executor::sweep`, the long-running executors' code too). Settings from the
//! environment (docs/configuration.md, binary `executor-lambda`). Live frames go to the
//! WebSocket API's connections when `ws.connections_table` and `ws.endpoint` are set.

use std::sync::Arc;

use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_lambda::env::{Env, init_tracing};
use crewship_lambda::event::{ExecutorResponse, Invocation, SWEEP_EVERY};
use crewship_lambda::sqs::handle_batch;
use crewship_lambda::ws::{ApiGatewayBroadcaster, ApiGatewayPoster, DynamoConnections};
use crewship_settings::Bin;
use executor::runtime::RuntimeBackend;
use executor::{Executor, ExecutorConfig};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = aws_sdk_config().await;
    let settings = Env::load(&sdk, Bin::ExecutorLambda)
        .await?
        .settings(Bin::ExecutorLambda)?;
    init_tracing(settings.log.format);
    let mut built = build_ports_with(&Backends::from_settings(&settings)?, &sdk);
    let broadcaster = match (&settings.ws.connections_table, &settings.ws.endpoint) {
        (Some(table), Some(endpoint)) => {
            let connections =
                DynamoConnections::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
            let poster = ApiGatewayPoster::from_env(endpoint).await;
            let b = Arc::new(ApiGatewayBroadcaster::spawn(
                Arc::new(connections),
                Arc::new(poster),
                4096,
            ));
            built.ports.broadcaster = b.clone();
            Some(b)
        }
        _ => None,
    };
    let runtime = RuntimeBackend::from(settings.executor.runtime()?).build()?;
    let config = ExecutorConfig::from_settings(&settings.executor);
    let executor = Arc::new(Executor::new(built.ports, runtime, config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Invocation>| {
        let executor = executor.clone();
        let broadcaster = broadcaster.clone();
        async move {
            let response = match event.payload {
                Invocation::Queue(batch) => ExecutorResponse::Batch(
                    handle_batch(&executor, batch, CancellationToken::new()).await,
                ),
                Invocation::Sweep(_) => {
                    let swept = executor.sweep(SWEEP_EVERY).await?;
                    ExecutorResponse::Swept {
                        lost: swept.lost,
                        requeued: swept.requeued,
                    }
                }
            };
            // The function may be frozen after it returns: post what is queued first.
            if let Some(b) = broadcaster {
                b.flush().await;
            }
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}
