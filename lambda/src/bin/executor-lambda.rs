//! The executor on the SQS event source: each record goes through the same `Executor::handle`
//! the long-running executors use; failures are reported per record. Live frames go to the
//! WebSocket API's connections when `CREWSHIP_CONNECTIONS_TABLE` and `CREWSHIP_WS_ENDPOINT` are
//! set.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_core::secret::Secret;
use crewship_lambda::env::{Env, init_tracing};
use crewship_lambda::sqs::handle_batch;
use crewship_lambda::ws::{ApiGatewayBroadcaster, ApiGatewayPoster, DynamoConnections};
use executor::runtime::RuntimeBackend;
use executor::{Executor, ExecutorConfig};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let sdk = aws_sdk_config().await;
    let env = Env::load(&sdk).await?;
    let backends = Backends::from_vars(|name| env.get(name))?;
    let mut built = build_ports_with(&backends, &sdk);
    let broadcaster = match (
        env.get("CREWSHIP_CONNECTIONS_TABLE"),
        env.get("CREWSHIP_WS_ENDPOINT"),
    ) {
        (Some(table), Some(endpoint)) => {
            let connections = DynamoConnections::new(aws_sdk_dynamodb::Client::new(&sdk), table);
            let poster = ApiGatewayPoster::from_env(&endpoint).await;
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
    let runtime = match env.get("CREWSHIP_RUNTIME").as_deref() {
        Some("keeper") => RuntimeBackend::Keeper {
            url: env
                .get("CREWSHIP_KEEPER_URL")
                .ok_or("CREWSHIP_KEEPER_URL is not set")?,
            token: Secret::new(
                env.get("CREWSHIP_KEEPER_TOKEN")
                    .ok_or("CREWSHIP_KEEPER_TOKEN is not set")?,
            ),
        },
        _ => RuntimeBackend::Process {
            work_dir: env
                .get("CREWSHIP_WORK_DIR")
                .unwrap_or_else(|| "/tmp/crews".into())
                .into(),
        },
    }
    .build()?;
    let mut config = ExecutorConfig::default();
    if let Some(secs) = env.get("CREWSHIP_RUN_TIMEOUT_SECS") {
        config.run_timeout = Duration::from_secs(secs.parse()?);
    }
    let executor = Arc::new(Executor::new(built.ports, runtime, config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let executor = executor.clone();
        let broadcaster = broadcaster.clone();
        async move {
            let response = handle_batch(&executor, event.payload, CancellationToken::new()).await;
            // The function may be frozen after it returns: post what is queued first.
            if let Some(b) = broadcaster {
                b.flush().await;
            }
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}
