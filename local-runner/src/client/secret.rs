//! `local-runner secret rotate ID`: a new webhook secret for the agent, printed this once; the
//! old one keeps verifying for the deployment's grace period (`previous_valid_until`).

use clap::{Args, Subcommand};
use reqwest::Method;

use super::api::{Api, MonitoringToken, Remote, agent_id, print_json};

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    token: MonitoringToken,
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Replace the agent's webhook secret; prints the new one once.
    Rotate { id: String },
}

pub async fn run(args: SecretArgs) -> anyhow::Result<()> {
    let token = args.token.required()?;
    let api = Api::new(&args.remote);
    match args.command {
        SecretCommand::Rotate { id } => {
            let id = agent_id(&id)?;
            let request = api
                .request(
                    Method::POST,
                    &format!("/api/v1/agents/{id}/webhook-secret/rotate"),
                )
                .bearer_auth(&token);
            let (_, answer) = api.send(request).await?;
            print_json(&answer)?;
            eprintln!(
                "the new webhook_secret is shown this once; the old one keeps verifying until {}",
                answer["previous_valid_until"].as_str().unwrap_or("now")
            );
        }
    }
    Ok(())
}
