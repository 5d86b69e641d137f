//! `local-runner trigger`: signs a webhook for an agent (timestamped `X-Signature`),
//! sends it, prints the run id, and with `--wait` follows the run to its end. The secret comes
//! from a file or the environment, never the command line, where shell history would keep it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use crewship_core::ids::{AgentId, CrewId};
use crewship_core::signer::Signer;
use serde_json::{Value, json};

use crate::config::Settings;

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The agent to trigger.
    #[arg(long)]
    agent: String,
    /// The agent's crew; needed when the agent is not in the local configuration (an agent
    /// registered through the API, or on another deployment).
    #[arg(long)]
    crew: Option<String>,
    /// Base URL of the service; the configured listen address by default.
    #[arg(long, env = "CREWSHIP_URL")]
    url: Option<String>,
    #[arg(long, default_value = "manual")]
    event: String,
    #[arg(long, default_value = "local-runner")]
    source: String,
    /// JSON for the `data` field.
    #[arg(long, default_value = "{}")]
    data: String,
    /// File holding the webhook secret (else CREWSHIP_WEBHOOK_SECRET, else the config file).
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Sent as Idempotency-Key, so a retried command does not start a second run.
    #[arg(long)]
    delivery_id: Option<String>,
    /// Wait for the run to finish and print its status and output (needs a monitoring token).
    #[arg(long)]
    wait: bool,
    /// Monitoring token for --wait.
    #[arg(long, env = "CREWSHIP_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub async fn run(settings: &Settings, args: TriggerArgs) -> anyhow::Result<()> {
    let configured = settings
        .agents
        .iter()
        .find(|(a, _)| a.id.as_str() == args.agent);
    let agent_id: AgentId = args.agent.parse()?;
    let crew: CrewId = match (&args.crew, configured) {
        (Some(crew), _) => crew.parse()?,
        (None, Some((agent, _))) => agent.crew_id.clone(),
        (None, None) => bail!(
            "no agent {:?} in the configuration: pass --crew to trigger an agent the \
             deployment knows",
            args.agent
        ),
    };
    let secret = match (&args.secret_file, std::env::var("CREWSHIP_WEBHOOK_SECRET")) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned(),
        (None, Ok(s)) if !s.is_empty() => s,
        _ => match configured {
            Some((agent, false)) if args.crew.is_none() => agent
                .webhook_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
            _ => bail!(
                "the agent's secret is not in the configuration: set CREWSHIP_WEBHOOK_SECRET to \
                 the secret the service printed, or pass --secret-file"
            ),
        },
    };
    let data: Value = serde_json::from_str(&args.data).context("--data is not valid JSON")?;
    let body =
        serde_json::to_vec(&json!({"event": args.event, "source": args.source, "data": data}))?;
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let signature = Signer::new(&secret).timestamped(&timestamp, &body);
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{base}/api/v1/webhooks/{crew}/{agent_id}/trigger"))
        .header("content-type", "application/json")
        .header("x-timestamp", &timestamp)
        .header("x-signature", signature)
        .body(body);
    if let Some(id) = &args.delivery_id {
        request = request.header("idempotency-key", id);
    }
    let response = request.send().await.context("sending the webhook")?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.as_u16() != 202 {
        bail!("the service answered {status}: {answer}");
    }
    let run_id = answer["run_id"]
        .as_str()
        .context("no run_id in the answer")?
        .to_owned();
    println!("{run_id}");
    if args.wait {
        let token = args
            .token
            .context("--wait needs a monitoring token (CREWSHIP_TOKEN)")?;
        follow(&client, base, &token, agent_id.as_str(), &run_id).await?;
    }
    Ok(())
}

async fn follow(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
    run_id: &str,
) -> anyhow::Result<()> {
    let run = loop {
        let run: Value = client
            .get(format!("{base}/api/v1/runs/{run_id}"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if !matches!(run["status"].as_str(), Some("QUEUED" | "RUNNING")) {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let logs: Vec<Value> = client
        .get(format!("{base}/api/v1/agents/{agent}/logs"))
        .query(&[("run_id", run_id), ("limit", "1000")])
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for entry in &logs {
        println!("  {}", entry["content"].as_str().unwrap_or_default());
    }
    println!(
        "{} exit_code={} duration_ms={}{}",
        run["status"].as_str().unwrap_or("?"),
        run["exit_code"],
        run["duration_ms"],
        run["error_message"]
            .as_str()
            .map(|e| format!(" error={e:?}"))
            .unwrap_or_default()
    );
    Ok(())
}
