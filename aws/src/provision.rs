//! Creates the tables (with their indexes), the queue with its dead-letter queue, and the
//! payload bucket. For local development and tests; in the cloud, the SAM template does this.

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

fn gsi(
    name: &str,
    pk: &str,
    sk: &str,
    projection: ProjectionType,
) -> Result<GlobalSecondaryIndex, ProvisionError> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()?)
}

use ScalarAttributeType::{N, S};

/// Creates the five tables. Fails if one exists.
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    tables: &Tables,
) -> Result<(), ProvisionError> {
    client
        .create_table()
        .table_name(&tables.runs)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("id", S)?)
        .attribute_definitions(attr("agent_id", S)?)
        .attribute_definitions(attr("agent_status", S)?)
        .attribute_definitions(attr("leased", S)?)
        .attribute_definitions(attr("lease_expires", N)?)
        .key_schema(key("id", KeyType::Hash)?)
        .global_secondary_indexes(gsi("by_agent", "agent_id", "id", ProjectionType::All)?)
        .global_secondary_indexes(gsi(
            "by_agent_status",
            "agent_status",
            "id",
            ProjectionType::KeysOnly,
        )?)
        .global_secondary_indexes(gsi(
            "by_lease",
            "leased",
            "lease_expires",
            ProjectionType::All,
        )?)
        .send()
        .await?;
    client
        .create_table()
        .table_name(&tables.dedup)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", S)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(&tables.dedup)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    client
        .create_table()
        .table_name(&tables.chats)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("chat_id", S)?)
        .key_schema(key("chat_id", KeyType::Hash)?)
        .send()
        .await?;
    client
        .create_table()
        .table_name(&tables.logs)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("run_id", S)?)
        .attribute_definitions(attr("seq", N)?)
        .attribute_definitions(attr("agent_id", S)?)
        .attribute_definitions(attr("agent_order", S)?)
        .key_schema(key("run_id", KeyType::Hash)?)
        .key_schema(key("seq", KeyType::Range)?)
        .global_secondary_indexes(gsi(
            "by_agent",
            "agent_id",
            "agent_order",
            ProjectionType::All,
        )?)
        .send()
        .await?;
    client
        .create_table()
        .table_name(&tables.agents)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("agent_id", S)?)
        .attribute_definitions(attr("workspace_id", S)?)
        .attribute_definitions(attr("crew_id", S)?)
        .key_schema(key("agent_id", KeyType::Hash)?)
        .global_secondary_indexes(gsi(
            "by_workspace",
            "workspace_id",
            "agent_id",
            ProjectionType::All,
        )?)
        .global_secondary_indexes(gsi("by_crew", "crew_id", "agent_id", ProjectionType::All)?)
        .send()
        .await?;
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
