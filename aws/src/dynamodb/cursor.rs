//! The listing cursor: the id of the last run a page returned, base64url-encoded so it is
//! opaque and URL-safe. The next page starts after that run.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crewship_core::ids::RunId;
use crewship_core::store::StoreError;

pub fn encode(last: &RunId) -> String {
    URL_SAFE_NO_PAD.encode(last.as_str())
}

pub fn decode(cursor: &str) -> Result<RunId, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    String::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(StoreError::BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = RunId::generate();
        let c = encode(&id);
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode(&c).unwrap(), id);
        assert!(decode("!!").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("a/b")).is_err());
    }
}
