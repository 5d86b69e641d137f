//! The sealing key of a SQLite store when the configuration names none: generated once into a
//! file beside the database (`<file>.key`), readable and writable by its owner only, and read
//! from there at every later start. Losing the file makes the stored agents unreadable, as
//! losing the configured key would.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::seal::Sealing;

use super::SqliteError;

/// `<database>.key`.
pub fn key_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key in the file beside `database`, created (mode 0600) on first use. A key file others
/// can read is refused: the key opens every stored secret.
pub(super) fn load_or_create(database: &Path) -> Result<Sealing, SqliteError> {
    let path = key_path(database);
    let text = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let key = Sealing::generate_key();
            file.write_all(key.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| SqliteError::KeyFile(path.clone(), e))?;
            key
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(&path)
                .map_err(|e| SqliteError::KeyFile(path.clone(), e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(SqliteError::KeyFileOpen(path));
            }
            std::fs::read_to_string(&path).map_err(|e| SqliteError::KeyFile(path.clone(), e))?
        }
        Err(e) => return Err(SqliteError::KeyFile(path, e)),
    };
    Sealing::from_base64_key(&text).map_err(SqliteError::Seal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_generated_once_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("crewship-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("store.db");
        let first = load_or_create(&db).unwrap();
        let sealed = first.seal(b"secret", b"a").unwrap();
        let mode = std::fs::metadata(key_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&db).unwrap();
        assert_eq!(again.open(&sealed, b"a").unwrap(), b"secret");
        std::fs::set_permissions(key_path(&db), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create(&db),
            Err(SqliteError::KeyFileOpen(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
