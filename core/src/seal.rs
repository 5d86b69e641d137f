//! Agent records (and other secrets) at rest: sealed with AES-256-GCM under a key from
//! configuration, with the record's id as associated data so a sealed record cannot be moved to
//! another record's row or item. The DynamoDB and the SQLite stores both seal with it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the secrets key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a sealed record could not be opened (wrong key or tampered)")]
    Open,
    #[error("a sealed record was found but no secrets key is configured")]
    NoKey,
}

/// How agent records are written: sealed, or (only when explicitly allowed) in plaintext.
#[derive(Clone)]
pub enum Sealing {
    Aes256Gcm(Box<Aes256Gcm>),
    /// Only with `CREWSHIP_ALLOW_PLAINTEXT_SECRETS=true`, for local experiments.
    Plaintext,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aes256Gcm(_) => "Aes256Gcm([redacted])",
            Self::Plaintext => "Plaintext",
        })
    }
}

impl Sealing {
    /// From a base64 (standard or URL-safe) 32-byte key.
    pub fn from_base64_key(key: &str) -> Result<Self, SealError> {
        let key = key.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key))
            .map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        Ok(Self::Aes256Gcm(Box::new(Aes256Gcm::new(
            Key::<Aes256Gcm>::from_slice(&bytes),
        ))))
    }

    /// A new random key, base64-encoded as [`Self::from_base64_key`] reads it.
    pub fn generate_key() -> String {
        let key: [u8; 32] = rand::random();
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// nonce ‖ ciphertext, or `None` in plaintext mode.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let Self::Aes256Gcm(cipher) = self else {
            return None;
        };
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut out = nonce.to_vec();
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&ct);
        Some(out)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let Self::Aes256Gcm(cipher) = self else {
            return Err(SealError::NoKey);
        };
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Sealing {
        Sealing::from_base64_key(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
            .unwrap()
    }

    #[test]
    fn sealed_records_open_with_the_same_key_and_id_only() {
        let s = key();
        let sealed = s.seal(b"hunter2", b"agent-a").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(s.open(&sealed, b"agent-a").unwrap(), b"hunter2");
        assert!(s.open(&sealed, b"agent-b").is_err());
        let other =
            Sealing::from_base64_key(&base64::engine::general_purpose::STANDARD.encode([8u8; 32]))
                .unwrap();
        assert!(other.open(&sealed, b"agent-a").is_err());
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        assert!(Sealing::from_base64_key("c2hvcnQ=").is_err());
        assert!(Sealing::from_base64_key("not base64 !!").is_err());
    }
}
