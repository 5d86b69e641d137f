//! Secrets a local runner generates when its configuration names none (the internal token,
//! monitoring tokens): kept sealed in the `secrets` table, so that a restart serves the ones it
//! printed the first time instead of new ones.

use rusqlite::{OptionalExtension, params};

use super::{SqliteError, SqliteStore};
use crate::seal::SealError;
use crate::secret::Secret;

impl SqliteStore {
    /// The secret stored under `name`, or `candidate`, stored now. Returns the secret to use and
    /// whether it is `candidate` (new: to be shown once).
    pub async fn keep_generated(
        &self,
        name: &str,
        candidate: Secret,
    ) -> Result<(Secret, bool), SqliteError> {
        let (name, sealing) = (name.to_owned(), self.sealing.clone());
        let aad = format!("secret:{name}");
        self.db
            .write(move |conn| {
                let sealed: Option<Vec<u8>> = conn
                    .query_row("SELECT sealed FROM secrets WHERE name = ?1", [&name], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(sealed) = sealed {
                    let plain = sealing
                        .open(&sealed, aad.as_bytes())
                        .map_err(SqliteError::Seal)?;
                    let text = String::from_utf8(plain).map_err(SqliteError::corrupt)?;
                    return Ok((Secret::new(text), false));
                }
                let sealed = sealing
                    .seal(candidate.expose().as_bytes(), aad.as_bytes())
                    .ok_or(SqliteError::Seal(SealError::NoKey))?;
                conn.execute(
                    "INSERT INTO secrets (name, sealed) VALUES (?1, ?2)",
                    params![name, sealed],
                )?;
                Ok((candidate, true))
            })
            .await
    }
}
