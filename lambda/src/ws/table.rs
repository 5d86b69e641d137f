//! Creating the connections table as `template.yaml`'s `ConnectionsTable` declares it (key
//! `connection_id`, the sparse GSI [`WORKSPACE_INDEX`] on `subscribed`), for a stack without
//! CloudFormation: the tests against moto, and a deployment by hand.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use super::dynamo::WORKSPACE_INDEX;

/// Creates the table `name`. Fails if it exists.
pub async fn create_table(client: &Client, name: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let hash = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(KeyType::Hash)
            .build()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(WORKSPACE_INDEX)
        .key_schema(hash("subscribed")?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("connection_id")?)
        .attribute_definitions(attr("subscribed")?)
        .key_schema(hash("connection_id")?)
        .global_secondary_indexes(index)
        .send()
        .await?;
    Ok(())
}
