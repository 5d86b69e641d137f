//! `local-runner secret rotate ID`: a new webhook secret for the agent, printed this once; the
//! old one keeps verifying for the deployment's grace period (`previous_valid_until`).

use clap::{Args, Subcommand};
use reqwest::Method;

use super::api::{Api, Remote, agent_id, print_json, required};

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    remote: Remote,
    /// A monitoring token of the agent's workspace.
    #[arg(
        id = "remote_token",
        long = "token",
        value_name = "TOKEN",
        env = "CREWSHIP_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Replace the agent's webhook secret; prints the new one once.
    Rotate { id: String },
}

pub async fn run(args: SecretArgs) -> anyhow::Result<()> {
    let token = required(args.token, "--token", "CREWSHIP_TOKEN")?;
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
