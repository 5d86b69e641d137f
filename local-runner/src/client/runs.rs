//! `local-runner runs replay ID`: a new run of an earlier one's payload (`docs/replay.md`),
//! with a monitoring token of the run's workspace. Prints the service's answer (the new run's
//! id) as JSON.

use anyhow::Context;
use clap::{Args, Subcommand};
use crewship_core::ids::RunId;
use reqwest::Method;

use super::api::{Api, MonitoringToken, Remote, print_json};

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    token: MonitoringToken,
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Run an earlier run's payload again, as a new run (`trigger_type` REPLAY).
    Replay { id: String },
}

pub async fn run(args: RunsArgs) -> anyhow::Result<()> {
    let token = args.token.required()?;
    let api = Api::new(&args.remote);
    match args.command {
        RunsCommand::Replay { id } => {
            let id: RunId = id
                .parse()
                .with_context(|| format!("{id:?} is not a run id"))?;
            let request = api
                .request(Method::POST, &format!("/api/v1/runs/{id}/replay"))
                .bearer_auth(&token);
            let (_, answer) = api.send(request).await?;
            print_json(&answer)?;
            eprintln!(
                "run {id} replayed as {}",
                answer["run_id"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}
