//! HMAC-SHA256 over the exact bytes received, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub type Tag = [u8; 32];

/// HMAC-SHA256 of the concatenation of `parts`, keyed by `key`, without copying the parts
/// together (the body may be a megabyte).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Tag {
    #[cfg(test)]
    HMACS.with(|n| n.set(n.get() + 1));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
thread_local! {
    /// HMACs computed on this thread: what a timing test would see, counted exactly.
    pub(crate) static HMACS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Exactly 64 hex digits of either case, or `None`.
pub fn parse_hex_tag(s: &str) -> Option<Tag> {
    let mut tag = [0u8; 32];
    (s.len() == 64 && hex::decode_to_slice(s, &mut tag).is_ok()).then_some(tag)
}

/// Constant-time tag equality.
pub fn tags_equal(a: &Tag, b: &Tag) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2.
    #[test]
    fn rfc4231_known_answer() {
        let tag = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    // Computed independently: printf '{"event":"push"}' | openssl dgst -sha256 -hmac s3cret
    #[test]
    fn webhook_body_known_answer() {
        let tag = hmac_sha256(b"s3cret", &[br#"{"event":"push"}"#]);
        assert_eq!(
            hex::encode(tag),
            "82017e44486e567046c1efbd37f3e197c772a48337ba99c01adc761b83fa51df"
        );
    }

    #[test]
    fn hex_tags_of_either_case_parse_and_nothing_else_does() {
        let lower = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(parse_hex_tag(lower).is_some());
        assert_eq!(parse_hex_tag(&lower.to_uppercase()), parse_hex_tag(lower));
        for bad in [
            "",
            &lower[..62],
            &format!("{lower}00"),
            &format!("sha256={lower}"),
        ] {
            assert!(parse_hex_tag(bad).is_none(), "{bad}");
        }
        assert!(parse_hex_tag(&lower.replace('5', "g")).is_none());
    }
}
