//! `crewship-provision`: creates the tables, queues and bucket on the configured AWS endpoint
//! (moto locally), registers agents from JSON files, and prints the environment the other bins
//! need. In the cloud the SAM template creates the resources instead. Table names, bucket and
//! sealing key come from the `[store]` settings (docs/configuration.md).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use crewship_aws::config::{Backends, aws_sdk_config, build_ports_with, s3_client};
use crewship_aws::dynamodb::Tables;
use crewship_aws::provision;
use crewship_aws::sqs::SqsQueue;
use crewship_cloud::dlq::{self, DlqAction};
use crewship_core::agent::Agent;
use crewship_settings::model::{QueueKind, StoreKind};
use crewship_settings::{Bin, File, Flags, ForBin};

struct ThisBin;
impl ForBin for ThisBin {
    const BIN: Bin = Bin::Provision;
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Create the DynamoDB tables, SQS queues and S3 bucket; register agents"
)]
struct Args {
    #[command(flatten)]
    settings: Flags<ThisBin>,
    /// The run queue's visibility timeout; its DLQ is `<prefix>-runs-dlq`.
    #[arg(long, default_value_t = 60)]
    visibility_secs: u32,
    /// Receives after which a message moves to the dead-letter queue (the template's).
    #[arg(long, default_value_t = provision::MAX_RECEIVES)]
    max_receives: u32,
    /// Agent records (JSON, the registry's format) to register, sealed with
    /// CREWSHIP_SECRETS_KEY.
    #[arg(long = "agent")]
    agents: Vec<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Empties the dead-letter queue: `redrive` sends each QUEUED run back to the run queue
    /// (CREWSHIP_QUEUE_URL), `fail` finishes each FAILED "queue message dead-lettered"
    /// (docs/aws.md, runbook). Creates nothing.
    Dlq {
        action: DlqAction,
        /// The dead-letter queue's URL (the stack's DeadLetterQueueUrl output).
        #[arg(long)]
        dlq_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut settings = args.settings.load(File::None)?;
    crewship_cloud::init_tracing(settings.log.format);
    let sdk = aws_sdk_config().await;
    if let Some(Command::Dlq { action, dlq_url }) = &args.command {
        let ports = build_ports_with(&Backends::from_settings(&settings)?, &sdk).ports;
        let dead = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), dlq_url);
        let report = dlq::drain(&dead, &ports, *action).await?;
        println!(
            "redriven {} failed {} settled {}",
            report.redriven, report.failed, report.settled
        );
        return Ok(());
    }
    let prefix = settings.store.table_prefix.clone();
    let tables = Tables::with_prefix(&prefix);
    let bucket = settings
        .store
        .payload_bucket
        .clone()
        .unwrap_or_else(|| format!("{prefix}-payloads"));
    provision::create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &tables)
        .await
        .map_err(|e| anyhow::anyhow!("creating tables: {e}"))?;
    provision::create_bucket(&s3_client(&sdk), &bucket)
        .await
        .map_err(|e| anyhow::anyhow!("creating bucket {bucket}: {e}"))?;
    let queue = provision::create_queue(
        &aws_sdk_sqs::Client::new(&sdk),
        &format!("{prefix}-runs"),
        args.visibility_secs,
        args.max_receives,
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating queues: {e}"))?;
    if !args.agents.is_empty() {
        // The agents go where the other bins will look: the resources just created.
        settings.store.backend = Some(StoreKind::Dynamodb);
        settings.store.payload_bucket = Some(bucket.clone());
        settings.queue.backend = Some(QueueKind::Sqs);
        settings.queue.url = Some(queue.queue.clone());
        let backends = Backends::from_settings(&settings)?;
        let ports = build_ports_with(&backends, &sdk).ports;
        for path in &args.agents {
            let agent: Agent = serde_json::from_slice(&std::fs::read(path)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            eprintln!("registered agent {}", agent.id);
            ports.agents.put(agent).await?;
        }
    }
    println!("export CREWSHIP_STORE=dynamodb");
    println!("export CREWSHIP_TABLE_PREFIX={prefix}");
    println!("export CREWSHIP_PAYLOAD_BUCKET={bucket}");
    println!("export CREWSHIP_QUEUE_URL={}", queue.queue);
    eprintln!("dead-letter queue: {}", queue.dead_letter);
    Ok(())
}
