//! [`ChatStore`] on the `chats` table.

use async_trait::async_trait;
use rusqlite::OptionalExtension;

use super::{SqliteStore, unavailable};
use crate::store::{ChatStore, StoreError};

#[async_trait]
impl ChatStore for SqliteStore {
    async fn ensure(&self, chat_id: &str, title: &str) -> Result<bool, StoreError> {
        let (chat_id, title) = (chat_id.to_owned(), title.to_owned());
        self.db
            .write(move |conn| {
                let created = conn.execute(
                    "INSERT INTO chats (chat_id, title) VALUES (?1, ?2)
                     ON CONFLICT (chat_id) DO NOTHING",
                    [&chat_id, &title],
                )?;
                Ok(created == 1)
            })
            .await
            .map_err(unavailable)
    }

    async fn title(&self, chat_id: &str) -> Result<Option<String>, StoreError> {
        let chat_id = chat_id.to_owned();
        self.db
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT title FROM chats WHERE chat_id = ?1",
                        [&chat_id],
                        |r| r.get(0),
                    )
                    .optional()?)
            })
            .await
            .map_err(unavailable)
    }
}
