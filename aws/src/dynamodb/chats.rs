//! Chat sessions: one item per chat id, created if absent.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use crewship_core::store::{ChatStore, StoreError};

use super::{get_s, s};
use crate::boxed;

#[derive(Clone, Debug)]
pub struct DynamoChatStore {
    client: Client,
    table: String,
}

impl DynamoChatStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl ChatStore for DynamoChatStore {
    #[tracing::instrument(skip(self, title))]
    async fn ensure(&self, chat_id: &str, title: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("chat_id", s(chat_id))
            .item("title", s(title))
            .condition_expression("attribute_not_exists(chat_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::Unavailable(boxed(e))),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn title(&self, chat_id: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("chat_id", s(chat_id))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(boxed(e)))?;
        Ok(out
            .item
            .and_then(|item| get_s(&item, "title").ok().map(str::to_owned)))
    }
}
