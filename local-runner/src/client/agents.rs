//! `local-runner agents put|get|list|delete`: the management API of `docs/agents.md` with the
//! internal token. `put` reads one agent in the shape of a configuration file's `[[agents]]` entry.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args, Subcommand};
use crewship_core::agent_spec::AgentSpec;
use reqwest::Method;

use super::api::{Api, Remote, agent_id, print_json, required};

#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(flatten)]
    remote: Remote,
    /// The deployment's internal token (X-Internal-Token).
    #[arg(
        id = "remote_internal_token",
        long = "internal-token",
        value_name = "TOKEN",
        env = "CREWSHIP_INTERNAL_TOKEN",
        hide_env_values = true,
        global = true
    )]
    internal_token: Option<String>,
    #[command(subcommand)]
    command: AgentsCommand,
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// Create or replace the agent a TOML file describes (the shape of an `[[agents]]` entry,
    /// `id` included). A new agent without `webhook_secret` gets one, printed this once.
    Put { file: PathBuf },
    /// Show an agent (never its secret, nor its env values).
    Get { id: String },
    /// List a crew's or a workspace's agents.
    #[command(group(ArgGroup::new("scope").required(true).args(["crew", "workspace"])))]
    List {
        /// The crew whose agents to list.
        #[arg(long)]
        crew: Option<String>,
        /// The workspace whose agents to list.
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Delete an agent: its webhooks are refused from then on.
    Delete { id: String },
}

pub async fn run(args: AgentsArgs) -> anyhow::Result<()> {
    let token = required(
        args.internal_token,
        "--internal-token",
        "CREWSHIP_INTERNAL_TOKEN",
    )?;
    let api = Api::new(&args.remote);
    let call = |method: Method, path: &str| {
        api.request(method, path)
            .header("x-internal-token", token.as_str())
    };
    match args.command {
        AgentsCommand::Put { file } => {
            let spec = read_spec(&file)?;
            let id = spec
                .id
                .clone()
                .with_context(|| format!("{}: the agent needs an `id`", file.display()))?;
            let id = agent_id(&id)?;
            let (status, answer) = api
                .send(call(Method::PUT, &format!("/api/v1/internal/agents/{id}")).json(&spec))
                .await?;
            print_json(&answer)?;
            eprintln!(
                "agent {id} {}",
                if status == 201 { "created" } else { "replaced" }
            );
            if answer.get("webhook_secret").is_some() {
                eprintln!(
                    "the webhook_secret above is shown this once: store it now (e.g. in the \
                     sender's webhook settings); `secret rotate` replaces it"
                );
            }
        }
        AgentsCommand::Get { id } => {
            let id = agent_id(&id)?;
            let (_, answer) = api
                .send(call(Method::GET, &format!("/api/v1/internal/agents/{id}")))
                .await?;
            print_json(&answer)?;
        }
        AgentsCommand::List { crew, workspace } => {
            let query = match (crew, workspace) {
                (Some(crew), _) => ("crew_id", crew),
                (_, Some(ws)) => ("workspace_id", ws),
                _ => bail!("give --crew or --workspace"),
            };
            let (_, answer) = api
                .send(call(Method::GET, "/api/v1/internal/agents").query(&[query]))
                .await?;
            print_json(&answer)?;
        }
        AgentsCommand::Delete { id } => {
            let id = agent_id(&id)?;
            api.send(call(
                Method::DELETE,
                &format!("/api/v1/internal/agents/{id}"),
            ))
            .await?;
            println!("deleted agent {id}");
        }
    }
    Ok(())
}

/// A file holding either the entry's keys at the top level or one `[[agents]]` entry.
fn read_spec(file: &PathBuf) -> anyhow::Result<AgentSpec> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", file.display()))?;
    let entry = match table.remove("agents") {
        Some(toml::Value::Array(mut agents)) if agents.len() == 1 && table.is_empty() => {
            agents.remove(0)
        }
        Some(_) => bail!("{}: give exactly one [[agents]] entry", file.display()),
        None => toml::Value::Table(table),
    };
    entry
        .try_into()
        .with_context(|| format!("{} is not a valid agent", file.display()))
}
