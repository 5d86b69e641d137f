//! A run's conditional write, built once and sent either as an `UpdateItem` or as one `Update`
//! of a transaction (the claim within the agent's cap, and the write that gives a slot back).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use crewship_core::ids::RunId;
use crewship_core::run::{Run, RunStatus};
use crewship_core::store::StoreError;

use super::{item, n, s};
use crate::boxed;

/// A run's conditional write, as an `UpdateItem` or a transaction's `Update`: every mutable
/// attribute set, the absent ones removed, on `status = prev AND version = run.version`.
pub(super) struct RunWrite {
    pub prev: RunStatus,
    pub next_version: u64,
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

const RUN_CONDITION: &str = "attribute_exists(id) AND #status = :prev AND #version = :ver";

impl RunWrite {
    pub fn new(
        run: &Run,
        prev: RunStatus,
        extra: &[(&'static str, AttributeValue)],
        remove: &[&'static str],
    ) -> Self {
        let next_version = run.version + 1;
        let mut names = HashMap::from([
            ("#status".to_owned(), "status".to_owned()),
            ("#version".to_owned(), "version".to_owned()),
        ]);
        let mut values = HashMap::from([
            (":prev".to_owned(), s(prev.as_str())),
            (":ver".to_owned(), n(run.version)),
        ]);
        let mut sets = Vec::new();
        let attributes = item::mutable_attributes(run, next_version)
            .into_iter()
            .chain(extra.iter().cloned());
        for (i, (name, value)) in attributes.enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            names.insert(format!("#a{i}"), name.to_owned());
            values.insert(format!(":v{i}"), value);
        }
        let mut expression = format!("SET {}", sets.join(", "));
        let mut absent = item::absent_attributes(run);
        absent.extend_from_slice(remove);
        if !absent.is_empty() {
            expression.push_str(&format!(" REMOVE {}", absent.join(", ")));
        }
        Self {
            prev,
            next_version,
            expression,
            names,
            values,
        }
    }

    pub fn apply(&self, request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        request
            .update_expression(&self.expression)
            .condition_expression(RUN_CONDITION)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()))
    }

    pub fn transact_item(&self, table: &str, id: &RunId) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(table)
            .key("id", s(id.as_str()))
            .update_expression(&self.expression)
            .condition_expression(RUN_CONDITION)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()))
            .build()
            .map_err(|e| StoreError::Unavailable(boxed(e)))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
