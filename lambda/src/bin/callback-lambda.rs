//! The callback function: delivers completion callbacks from the outbox, on the callbacks
//! queue's event source and, every five minutes, from the schedule that sweeps what is due
//! without a message (`crewship_lambda::callbacks`). Settings from the environment
//! (docs/configuration.md, binary `callback-lambda`).

use std::sync::Arc;

use crewship_aws::callback_queue::CallbackQueue;
use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with};
use crewship_lambda::callbacks::{CallbackResponse, handle_batch, sweep};
use crewship_lambda::env::{Env, init_tracing};
use crewship_lambda::event::Invocation;
use crewship_settings::Bin;
use executor::callbacks::{CallbackConfig, CallbackWorker};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = aws_sdk_config().await;
    let settings = Env::load(&sdk, Bin::CallbackLambda)
        .await?
        .settings(Bin::CallbackLambda)?;
    init_tracing(settings.log.format);
    let url = settings.queue.callbacks_url.clone();
    let url = url.expect("the settings require it for callback-lambda");
    let queue = Arc::new(CallbackQueue::connect(&sdk, url));
    let built = build_ports_with(&Backends::from_settings(&settings)?, &sdk);
    let config = CallbackConfig::from_settings(&settings.server);
    let worker = Arc::new(CallbackWorker::new(built.ports, config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Invocation>| {
        let (worker, queue) = (worker.clone(), queue.clone());
        async move {
            Ok::<_, lambda_runtime::Error>(match event.payload {
                Invocation::Queue(batch) => {
                    CallbackResponse::Batch(handle_batch(&worker, &queue, batch).await)
                }
                Invocation::Sweep(_) => sweep(&worker).await,
            })
        }
    }))
    .await
}
