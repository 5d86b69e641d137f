//! Creates the tables (with their indexes), the queue with its dead-letter queue, and the
//! payload bucket. For local development and tests; in the cloud, the SAM template does this,
//! and a test here keeps the two in line (tables, keys, indexes, TTL, `maxReceiveCount`). The
//! queue's visibility timeout differs on purpose: the template's suits the Lambda event source
//! (6× the function's timeout), `crewship-provision`'s the long-running executors' lease.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::dynamodb::Tables;

pub type ProvisionError = Box<dyn std::error::Error + Send + Sync>;

fn attr(name: &str, ty: ScalarAttributeType) -> Result<AttributeDefinition, ProvisionError> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ty)
        .build()?)
}

fn key(name: &str, ty: KeyType) -> Result<KeySchemaElement, ProvisionError> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(ty)
        .build()?)
}

use ScalarAttributeType::{N, S};

/// One table as the template declares it too; `create_tables` creates it and a test holds it
/// against `template.yaml`, so local tables and deployed ones have the same keys and indexes.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The template's resource name, e.g. `RunsTable`.
    pub resource: &'static str,
    pub name: String,
    pub attributes: Vec<(&'static str, ScalarAttributeType)>,
    pub hash: &'static str,
    pub range: Option<&'static str>,
    pub indexes: Vec<IndexSpec>,
    /// The TTL attribute, if any.
    pub ttl: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct IndexSpec {
    pub name: &'static str,
    pub hash: &'static str,
    pub range: &'static str,
    pub projection: ProjectionType,
}

fn index(
    name: &'static str,
    hash: &'static str,
    range: &'static str,
    projection: ProjectionType,
) -> IndexSpec {
    IndexSpec {
        name,
        hash,
        range,
        projection,
    }
}

/// The six tables (the crate docs describe their design).
pub fn table_specs(tables: &Tables) -> Vec<TableSpec> {
    vec![
        TableSpec {
            resource: "RunsTable",
            name: tables.runs.clone(),
            attributes: vec![
                ("id", S),
                ("agent_id", S),
                ("agent_status", S),
                ("leased", S),
                ("lease_expires", N),
                ("queued", S),
                ("created_ms", N),
            ],
            hash: "id",
            range: None,
            indexes: vec![
                index("by_agent", "agent_id", "id", ProjectionType::All),
                index(
                    "by_agent_status",
                    "agent_status",
                    "id",
                    ProjectionType::KeysOnly,
                ),
                index("by_lease", "leased", "lease_expires", ProjectionType::All),
                index(
                    "by_queued",
                    "queued",
                    "created_ms",
                    ProjectionType::KeysOnly,
                ),
            ],
            ttl: Some("expires_at"),
        },
        TableSpec {
            resource: "LogsTable",
            name: tables.logs.clone(),
            attributes: vec![
                ("run_id", S),
                ("seq", N),
                ("agent_id", S),
                ("agent_order", S),
            ],
            hash: "run_id",
            range: Some("seq"),
            indexes: vec![index(
                "by_agent",
                "agent_id",
                "agent_order",
                ProjectionType::All,
            )],
            ttl: Some("expires_at"),
        },
        TableSpec {
            resource: "DedupTable",
            name: tables.dedup.clone(),
            attributes: vec![("pk", S)],
            hash: "pk",
            range: None,
            indexes: vec![],
            ttl: Some("expires_at"),
        },
        TableSpec {
            resource: "ChatsTable",
            name: tables.chats.clone(),
            attributes: vec![("chat_id", S)],
            hash: "chat_id",
            range: None,
            indexes: vec![],
            ttl: None,
        },
        TableSpec {
            resource: "AgentsTable",
            name: tables.agents.clone(),
            attributes: vec![("agent_id", S), ("workspace_id", S), ("crew_id", S)],
            hash: "agent_id",
            range: None,
            indexes: vec![
                index(
                    "by_workspace",
                    "workspace_id",
                    "agent_id",
                    ProjectionType::All,
                ),
                index("by_crew", "crew_id", "agent_id", ProjectionType::All),
            ],
            ttl: None,
        },
        TableSpec {
            resource: "CallbacksTable",
            name: tables.callbacks.clone(),
            attributes: vec![("pk", S), ("due", S), ("next_at", N)],
            hash: "pk",
            range: None,
            indexes: vec![index("by_due", "due", "next_at", ProjectionType::KeysOnly)],
            ttl: Some("expires_at"),
        },
    ]
}

/// Receives after which a run message moves to the dead-letter queue, as in the template and
/// the executors' default `executor.max_receives` (a test holds all three together). A run
/// waiting on a cap never gets there: the executor re-sends it one receive before.
pub const MAX_RECEIVES: u32 = 5;

/// Receives after which a callbacks queue message moves to its dead-letter queue, as in the
/// template: one per attempt, and one more per wait over SQS's 12 h visibility, for the
/// longest schedule `server.callback_retry_secs` allows (20 waits of up to a day), with room.
pub const CALLBACK_MAX_RECEIVES: u32 = 50;

/// Creates the six tables. Fails if one exists.
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    tables: &Tables,
) -> Result<(), ProvisionError> {
    for spec in table_specs(tables) {
        let mut create = client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(spec.hash, KeyType::Hash)?);
        if let Some(range) = spec.range {
            create = create.key_schema(key(range, KeyType::Range)?);
        }
        for (name, ty) in &spec.attributes {
            create = create.attribute_definitions(attr(name, ty.clone())?);
        }
        for i in &spec.indexes {
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(i.name)
                    .key_schema(key(i.hash, KeyType::Hash)?)
                    .key_schema(key(i.range, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(i.projection.clone())
                            .build(),
                    )
                    .build()?,
            );
        }
        create.send().await?;
        if let Some(ttl) = spec.ttl {
            client
                .update_time_to_live()
                .table_name(&spec.name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(ttl)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
    }
    Ok(())
}

/// The run queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueueUrls {
    pub queue: String,
    pub dead_letter: String,
}

/// Creates `<name>` and `<name>-dlq`; a message moves to the DLQ after `max_receives`.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_secs: u32,
    max_receives: u32,
) -> Result<QueueUrls, ProvisionError> {
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?
        .queue_url
        .ok_or("no DLQ URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("no DLQ ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await?
        .queue_url
        .ok_or("no queue URL")?;
    Ok(QueueUrls {
        queue,
        dead_letter: dlq,
    })
}

pub async fn create_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<(), ProvisionError> {
    client.create_bucket().bucket(bucket).send().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../template.yaml");

    /// The lines of one top-level resource of the template.
    fn resource(name: &str) -> String {
        let start = format!("  {name}:\n");
        let at = TEMPLATE
            .find(&start)
            .unwrap_or_else(|| panic!("template.yaml has no resource {name}"));
        let body = &TEMPLATE[at + start.len()..];
        let end = body
            .lines()
            .position(|l| l.len() > 2 && !l.starts_with("   ") && l.starts_with("  "))
            .unwrap_or(body.lines().count());
        body.lines().take(end).collect::<Vec<_>>().join("\n")
    }

    fn ty(t: &ScalarAttributeType) -> &'static str {
        match t {
            S => "S",
            N => "N",
            _ => "B",
        }
    }

    fn projection(p: &ProjectionType) -> &'static str {
        match p {
            ProjectionType::All => "ALL",
            ProjectionType::KeysOnly => "KEYS_ONLY",
            _ => "INCLUDE",
        }
    }

    /// The spec as the template writes it.
    fn render(spec: &TableSpec) -> Vec<String> {
        let mut parts = Vec::new();
        let mut attrs = String::from("      AttributeDefinitions:");
        for (name, t) in &spec.attributes {
            attrs += &format!(
                "\n        - AttributeName: {name}\n          AttributeType: {}",
                ty(t)
            );
        }
        parts.push(attrs);
        let mut keys = format!(
            "      KeySchema:\n        - AttributeName: {}\n          KeyType: HASH",
            spec.hash
        );
        if let Some(range) = spec.range {
            keys += &format!("\n        - AttributeName: {range}\n          KeyType: RANGE");
        }
        parts.push(keys);
        if !spec.indexes.is_empty() {
            let mut gsis = String::from("      GlobalSecondaryIndexes:");
            for i in &spec.indexes {
                gsis += &format!(
                    "\n        - IndexName: {}\n          KeySchema:\n            - AttributeName: {}\n              KeyType: HASH\n            - AttributeName: {}\n              KeyType: RANGE\n          Projection:\n            ProjectionType: {}",
                    i.name,
                    i.hash,
                    i.range,
                    projection(&i.projection)
                );
            }
            parts.push(gsis);
        }
        if let Some(ttl) = spec.ttl {
            parts.push(format!("      TimeToLiveSpecification:\n        AttributeName: {ttl}\n        Enabled: true"));
        }
        parts
    }

    #[test]
    fn provisioned_tables_are_the_templates() {
        for spec in table_specs(&Tables::with_prefix("p")) {
            let block = resource(spec.resource);
            for part in render(&spec) {
                assert!(
                    block.contains(&part),
                    "template.yaml {} differs from provision.rs; expected\n{part}\nin\n{block}",
                    spec.resource
                );
            }
            // Nothing the template declares that provisioning leaves out.
            assert_eq!(
                block.matches("IndexName:").count(),
                spec.indexes.len(),
                "{}: indexes",
                spec.resource
            );
            assert_eq!(
                block.matches("AttributeType:").count(),
                spec.attributes.len(),
                "{}: attributes",
                spec.resource
            );
            assert_eq!(
                block.contains("TimeToLiveSpecification"),
                spec.ttl.is_some()
            );
        }
        let tables = TEMPLATE
            .lines()
            .filter(|l| l.trim() == "Type: AWS::DynamoDB::Table")
            .count();
        // One more: the WebSocket connections table (crewship-lambda's).
        assert_eq!(tables, table_specs(&Tables::with_prefix("p")).len() + 1);
    }

    /// The settings an executor starts with when nothing is configured.
    fn executor_defaults() -> crewship_settings::Settings {
        let bin = crewship_settings::Bin::Executor;
        crewship_settings::load(
            bin,
            crewship_settings::File::None,
            &crewship_settings::env_overrides(bin, |_| None),
        )
        .unwrap()
    }

    #[test]
    fn runs_logs_and_payloads_share_the_templates_one_retention() {
        let days = executor_defaults().store.retention_days;
        let parameter = TEMPLATE
            .split("\n  RetentionDays:\n")
            .nth(1)
            .expect("the RetentionDays parameter");
        assert!(
            parameter.contains(&format!("    Default: {days}\n")),
            "RetentionDays' default must be store.retention_days' ({days})"
        );
        assert!(TEMPLATE.contains("        CREWSHIP_RETENTION_DAYS: !Ref RetentionDays\n"));
        assert!(resource("PayloadBucket").contains("ExpirationInDays: !Ref RetentionDays"));
    }

    #[test]
    fn the_dead_letter_redrive_is_the_templates() {
        let queue = resource("RunQueue");
        assert!(
            queue.contains(&format!("maxReceiveCount: {MAX_RECEIVES}")),
            "RunQueue:\n{queue}"
        );
        assert!(queue.contains("deadLetterTargetArn: !GetAtt RunDeadLetterQueue.Arn"));
        let callbacks = resource("CallbackQueue");
        assert!(
            callbacks.contains(&format!("maxReceiveCount: {CALLBACK_MAX_RECEIVES}")),
            "CallbackQueue:\n{callbacks}"
        );
        assert!(callbacks.contains("deadLetterTargetArn: !GetAtt CallbackDeadLetterQueue.Arn"));
        // The executors re-send a waiting run one receive before this threshold: their
        // default must be the same number, and the docs must say it.
        assert_eq!(executor_defaults().executor.max_receives, MAX_RECEIVES);
        let docs = include_str!("../../docs/aws.md");
        assert!(
            docs.contains(&format!("`maxReceiveCount` receives: **{MAX_RECEIVES}**")),
            "docs/aws.md must give maxReceiveCount as {MAX_RECEIVES}"
        );
    }
}
