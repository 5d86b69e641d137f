//! GitHub hooks configured with content type `application/x-www-form-urlencoded` send
//! `payload=<url-encoded JSON>` and sign the raw form (`docs/senders/`, GitHub).

/// The message when the form has no `payload` field.
pub const MISSING_PAYLOAD: &str =
    "a form-encoded body must carry the JSON in its `payload` field (GitHub's form content type)";

/// The decoded `payload` field of a form body, if it has one.
pub fn payload_field(body: &[u8]) -> Option<Vec<u8>> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_field_is_decoded() {
        let body = b"payload=%7B%22action%22%3A%22opened%22%2C%22n%22%3A1%7D&other=x";
        assert_eq!(
            payload_field(body).unwrap(),
            br#"{"action":"opened","n":1}"#.to_vec()
        );
        assert_eq!(payload_field(b"other=x"), None);
    }
}
