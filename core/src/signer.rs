//! The sender's side of [`auth`](crate::auth): the header values a webhook sender computes for
//! each scheme `docs/webhooks.md` accepts. The local `trigger` command, the tests and the load
//! generator sign with this one type, so a sender and the verifier cannot drift apart.

use base64::Engine;

use crate::signature::hmac_sha256;

/// Signs bodies with one agent secret.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    secret: &'a [u8],
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl<'a> Signer<'a> {
    pub fn new(secret: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self {
            secret: secret.as_ref(),
        }
    }

    /// `X-Signature`: hex HMAC-SHA256 of the body.
    pub fn signature(&self, body: &[u8]) -> String {
        hex::encode(hmac_sha256(self.secret, &[body]))
    }

    /// `X-Signature` sent with `X-Timestamp: <ts>`: hex HMAC-SHA256 of `"<ts>.<body>"`.
    pub fn timestamped(&self, timestamp: &str, body: &[u8]) -> String {
        hex::encode(hmac_sha256(
            self.secret,
            &[timestamp.as_bytes(), b".", body],
        ))
    }

    /// `X-Hub-Signature-256` (GitHub): `sha256=` and the hex HMAC-SHA256 of the body.
    pub fn github(&self, body: &[u8]) -> String {
        format!("sha256={}", self.signature(body))
    }

    /// `webhook-signature` (Standard Webhooks): `v1,` and the base64 HMAC-SHA256 of
    /// `"<id>.<ts>.<body>"`.
    pub fn standard_webhooks(&self, id: &str, timestamp: &str, body: &[u8]) -> String {
        let tag = hmac_sha256(
            self.secret,
            &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
        );
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::auth::{Credential, Unverified};

    const BODY: &[u8] = br#"{"event":"push"}"#;

    // Known answers computed independently with openssl, e.g.
    // printf '1700000000.{"event":"push"}' | openssl dgst -sha256 -hmac s3cret
    #[test]
    fn signature_known_answer() {
        assert_eq!(
            Signer::new("s3cret").signature(BODY),
            "82017e44486e567046c1efbd37f3e197c772a48337ba99c01adc761b83fa51df"
        );
    }

    #[test]
    fn timestamped_known_answer() {
        assert_eq!(
            Signer::new("s3cret").timestamped("1700000000", BODY),
            "b3e8bf585bb8262f81b0d425376612e1d243b15f36865034090e1a3c8b7d8d08"
        );
    }

    #[test]
    fn github_known_answer() {
        assert_eq!(
            Signer::new("s3cret").github(BODY),
            "sha256=82017e44486e567046c1efbd37f3e197c772a48337ba99c01adc761b83fa51df"
        );
    }

    // printf 'msg_1.1700000000.{"event":"push"}' | openssl dgst -sha256 -hmac s3cret -binary | base64
    #[test]
    fn standard_webhooks_known_answer() {
        assert_eq!(
            Signer::new("s3cret").standard_webhooks("msg_1", "1700000000", BODY),
            "v1,3cUeuy1Gw8Ui2ESKlZ+C8MXcY42xObBerxps/dwF0e0="
        );
    }

    /// The Standard Webhooks reference libraries' own vector (`whsec_` + base64 of the key
    /// bytes): what signs this project's completion callbacks matches them.
    #[test]
    fn standard_webhooks_reference_vector() {
        let key = base64::engine::general_purpose::STANDARD
            .decode("C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
            .unwrap();
        assert_eq!(
            Signer::new(&key).standard_webhooks(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                "1649367553",
                br#"{"email":"test@example.com","username":"test_user"}"#,
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    fn agent() -> Agent {
        serde_json::from_value(serde_json::json!({
            "id": "a", "crew_id": "c", "workspace_id": "w", "name": "a", "adapter": "command",
            "webhook_secret": "s3cret",
            "rate_limit_per_min": 1, "max_queued_runs": 1, "max_concurrent_runs": 1
        }))
        .unwrap()
    }

    /// What the signer produces, the verifier accepts, for every scheme.
    #[test]
    fn the_verifier_accepts_every_signed_value() {
        let signer = Signer::new("s3cret");
        let agent = agent();
        for credential in [
            Credential::signature(&signer.signature(BODY), None),
            Credential::signature(&signer.timestamped("1700000000", BODY), Some("1700000000")),
            Credential::github(&signer.github(BODY)),
            Credential::standard_webhooks(
                "msg_1",
                "1700000000",
                &signer.standard_webhooks("msg_1", "1700000000", BODY),
            ),
        ] {
            let scheme = credential.scheme();
            let unverified = Unverified {
                credential,
                body: bytes::Bytes::from_static(BODY),
            };
            let verified = unverified.authenticate(Some(&agent), time::OffsetDateTime::UNIX_EPOCH);
            assert!(verified.is_ok(), "{scheme:?}");
        }
    }
}
