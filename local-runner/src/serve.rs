//! Wires the ports (memory or SQLite, `store`), the handler and the executor, and runs them
//! until a signal.

use std::sync::Arc;

use crewship_core::retention::LogCap;
use executor::callbacks::{CallbackConfig, CallbackWorker};
use executor::{Executor, ExecutorConfig};
use handler::{ApiToken, AppState, HandlerConfig, Prerequisites};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

pub async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    let mut executor_config = ExecutorConfig::from_settings(&settings.model.executor);
    let retention = &settings.model.retention;
    executor_config.log_cap = LogCap {
        max_lines: retention.log_max_lines,
        max_bytes: retention.log_max_bytes,
    };
    // A message stays hidden for two leases: the heartbeat renews it long before that.
    let store = crate::store::open(&mut settings, executor_config.lease * 2).await?;
    let runtime = settings.runtime.build()?;

    let tokens = settings
        .tokens
        .iter()
        .map(|(token, workspace_id, _)| ApiToken {
            token: token.clone(),
            workspace_id: workspace_id.clone(),
        })
        .collect();
    let mut config = HandlerConfig::from_settings(
        &settings.model,
        tokens,
        Prerequisites {
            orchestrator: Some(store.kind.registry_name()),
            container_runtime: Some(crewship_core::runtime::ContainerRuntime::describe(
                runtime.as_ref(),
            )),
            log_writer: Some(store.kind.log_writer_name()),
        },
    );
    // Generated when the settings have none (and printed below).
    config.internal_token = Some(settings.internal_token.clone());
    let state = AppState::new(store.ports.clone(), config, Some(store.hub.clone()));
    let app = handler::router(state);

    let listener = TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    print_banner(&settings, addr, &runtime.describe(), &store.kind);

    let stop = CancellationToken::new();
    tokio::spawn(wait_for_signal(stop.clone()));
    let executor = Arc::new(Executor::new(store.ports.clone(), runtime, executor_config));
    let executor_task = tokio::spawn(executor.run_until_stopped(stop.clone()));
    let callbacks = Arc::new(CallbackWorker::new(
        store.ports.clone(),
        CallbackConfig::from_settings(&settings.model.server),
    ));
    let callbacks_task = tokio::spawn(callbacks.run_until_stopped(stop.clone()));
    tokio::spawn(crate::store::sweep_until_stopped(
        store.retention.clone(),
        crate::store::policy(&settings),
        store.ports.clock.clone(),
        stop.clone(),
    ));
    handler::serve(
        listener,
        app,
        settings.limits.clone(),
        stop.clone().cancelled_owned(),
    )
    .await?;
    executor_task.await?;
    callbacks_task.await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn wait_for_signal(stop: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: no new runs; running agents get their grace period");
    stop.cancel();
    // A second signal does not wait for the grace period.
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    std::process::exit(130);
}

/// What a new user needs to send the first webhook. Printed on stdout, once, by design: these
/// are the only places generated secrets are shown.
fn print_banner(
    settings: &Settings,
    addr: std::net::SocketAddr,
    runtime: &str,
    store: &crate::store::Kind,
) {
    let base = format!("http://{addr}");
    println!("local-runner listening on {base}");
    println!("{}", store.describe());
    println!("dashboard: {base}/ui/ (sign in with a monitoring token)");
    println!("agents run in: {runtime}");
    if matches!(
        settings.runtime,
        executor::runtime::RuntimeBackend::Process { .. }
    ) {
        println!(
            "  no isolation: agents run as this user with its files and its environment in \
             /proc; use the sandbox runtime for agents that take webhooks from outside \
             (docs/runtimes.md)"
        );
    }
    if settings.internal_token_generated {
        println!(
            "internal token (X-Internal-Token): {}",
            settings.internal_token.expose()
        );
    }
    for (token, workspace, generated) in &settings.tokens {
        if *generated {
            println!(
                "monitoring token for workspace {workspace}: {}",
                token.expose()
            );
        }
    }
    for (agent, generated) in &settings.agents {
        let secret = agent
            .webhook_secret
            .as_ref()
            .expect("resolved agents have secrets");
        let url = format!(
            "{base}/api/v1/webhooks/{}/{}/trigger",
            agent.crew_id, agent.id
        );
        println!();
        println!(
            "agent {} (crew {}, workspace {})",
            agent.id, agent.crew_id, agent.workspace_id
        );
        println!("  webhook URL: {url}");
        if *generated {
            println!("  webhook secret: {}", secret.expose());
            println!(
                "  send a signed webhook:\n    body='{{\"event\":\"demo\",\"data\":{{\"hello\":\"world\"}}}}'; \
                 sig=$(printf '%s' \"$body\" | openssl dgst -sha256 -hmac '{}' | sed 's/^.* //'); \
                 curl -s -X POST '{url}' -H 'Content-Type: application/json' -H \"X-Signature: $sig\" -d \"$body\"",
                secret.expose()
            );
            let token = settings
                .tokens
                .iter()
                .find(|(_, w, _)| *w == agent.workspace_id)
                .map(|(t, _, _)| t.expose())
                .unwrap_or_default();
            println!(
                "  or let the runner sign it and wait for the result:\n    \
                 CREWSHIP_WEBHOOK_SECRET={} CREWSHIP_TOKEN={token} cargo run --release -p local-runner -- \
                 trigger --agent {} --url {base} --wait",
                secret.expose(),
                agent.id
            );
        }
    }
    println!();
}
