//! The request body as `docs/webhooks.md` (The payload) reads it: envelope form or raw form,
//! validated once.

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::json_depth;

/// Why a body is not an acceptable payload. The message points at the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// Hints from well-known sender headers, used only for raw-form bodies.
#[derive(Debug, Default, Clone, Copy)]
pub struct SenderHints<'a> {
    pub github_event: Option<&'a str>,
    pub gitlab_event: Option<&'a str>,
}

/// A validated body with the event, source and data it carries.
#[derive(Debug, Clone)]
pub struct Payload {
    pub raw: Arc<RawValue>,
    pub event: String,
    pub source: String,
}

/// The keys `docs/webhooks.md` (The payload) reads. Each is `Some` when the key is present, even
/// with a `null` value, because presence alone decides between envelope and raw form.
#[derive(Deserialize, Default)]
struct Keys<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    event: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    source: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    action: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl<'a> Keys<'a> {
    fn read(raw: &'a str) -> Result<Self, PayloadError> {
        serde_json::from_str(raw).map_err(|e| PayloadError(format!("invalid JSON payload: {e}")))
    }

    fn is_envelope(&self) -> bool {
        self.event.is_some() || self.source.is_some() || self.data.is_some()
    }
}

/// `Ok(None)` for a missing or `null` value, the string for a string, an error otherwise.
fn optional_string(key: &str, value: Option<&RawValue>) -> Result<Option<String>, PayloadError> {
    let Some(value) = value else { return Ok(None) };
    match value.get().as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'"') => serde_json::from_str(value.get())
            .map(Some)
            .map_err(|e| PayloadError(format!("`{key}`: {e}"))),
        _ => Err(PayloadError(format!(
            "`{key}` must be a string or null, got {}",
            kind_of(value.get())
        ))),
    }
}

fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

impl Payload {
    /// Validates `body` and derives event and source. The empty body is the empty object; one of
    /// only whitespace is not JSON. Nesting deeper than `max_depth` is refused before parsing.
    pub fn parse(
        body: &[u8],
        hints: SenderHints<'_>,
        max_depth: usize,
    ) -> Result<Self, PayloadError> {
        Self::parse_as(body, hints, max_depth, true)
    }

    /// [`Payload::parse`], with `envelope = false` for a sender's own body (docs/senders/):
    /// its keys are the sender's, so `event`, `source` and `data` are not ours to check.
    pub fn parse_as(
        body: &[u8],
        hints: SenderHints<'_>,
        max_depth: usize,
        envelope: bool,
    ) -> Result<Self, PayloadError> {
        json_depth::check(body, max_depth).map_err(|e| {
            PayloadError(format!(
                "the payload nests deeper than {} levels (the server's max_json_depth)",
                e.limit
            ))
        })?;
        let raw: Box<RawValue> = if body.is_empty() {
            RawValue::from_string("{}".to_owned()).expect("valid JSON")
        } else {
            serde_json::from_slice(body)
                .map_err(|e| PayloadError(format!("invalid JSON payload: {e}")))?
        };
        if !raw.get().starts_with('{') {
            return Err(PayloadError(format!(
                "the payload must be a JSON object, got {}",
                match raw.get().as_bytes().first() {
                    Some(b'"') => "a string",
                    Some(b'n') => "null",
                    _ => kind_of(raw.get()),
                }
            )));
        }
        if !envelope {
            let (event, source) = raw_form_origin(&Keys::default(), hints);
            return Ok(Self {
                raw: Arc::from(raw),
                event,
                source,
            });
        }
        let keys = Keys::read(raw.get())?;
        let event = optional_string("event", keys.event)?;
        let source = optional_string("source", keys.source)?;
        let (event, source) = if keys.is_envelope() {
            (event.unwrap_or_default(), source.unwrap_or_default())
        } else {
            raw_form_origin(&keys, hints)
        };
        Ok(Self {
            raw: Arc::from(raw),
            event,
            source,
        })
    }

    /// [`Payload::data_of`] for a run authenticated by `scheme`: a sender's own body is data
    /// whole, whatever its keys.
    pub fn data_for(payload: &RawValue, scheme: crate::run::AuthScheme) -> &str {
        if scheme.reads_envelope() {
            Self::data_of(payload)
        } else {
            payload.get()
        }
    }

    /// The JSON text the agent's `Data:` line renders: `data` of an envelope (`null` when
    /// missing), the whole body otherwise. `payload` must have passed [`Payload::parse`].
    pub fn data_of(payload: &RawValue) -> &str {
        match Keys::read(payload.get()) {
            Ok(keys) if keys.is_envelope() => keys.data.map_or("null", RawValue::get),
            _ => payload.get(),
        }
    }
}

fn raw_form_origin(keys: &Keys<'_>, hints: SenderHints<'_>) -> (String, String) {
    if let Some(github) = hints.github_event {
        let action = keys
            .action
            .filter(|a| a.get().starts_with('"'))
            .and_then(|a| serde_json::from_str::<String>(a.get()).ok());
        let event = match action {
            Some(action) => format!("{github}.{action}"),
            None => github.to_owned(),
        };
        return (event, "github".to_owned());
    }
    if let Some(gitlab) = hints.gitlab_event {
        return (gitlab.to_owned(), "gitlab".to_owned());
    }
    ("webhook".to_owned(), "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_depth::DEFAULT_MAX_DEPTH;

    fn parse(body: &str) -> Result<Payload, PayloadError> {
        Payload::parse(body.as_bytes(), SenderHints::default(), DEFAULT_MAX_DEPTH)
    }

    #[test]
    fn envelope_fields_are_read() {
        let p = parse(r#"{"event":"e","source":"s","data":{"a":1}}"#).unwrap();
        assert_eq!((p.event.as_str(), p.source.as_str()), ("e", "s"));
        assert_eq!(Payload::data_of(&p.raw), r#"{"a":1}"#);
    }

    #[test]
    fn null_event_counts_as_absent_but_makes_an_envelope() {
        let p = parse(r#"{"event":null,"x":1}"#).unwrap();
        assert_eq!((p.event.as_str(), p.source.as_str()), ("", ""));
        assert_eq!(Payload::data_of(&p.raw), "null");
    }

    #[test]
    fn raw_form_takes_the_whole_body_as_data() {
        let p = parse(r#"{"x":1}"#).unwrap();
        assert_eq!(
            (p.event.as_str(), p.source.as_str()),
            ("webhook", "unknown")
        );
        assert_eq!(Payload::data_of(&p.raw), r#"{"x":1}"#);
    }

    #[test]
    fn empty_body_is_the_empty_object() {
        let p = parse("").unwrap();
        assert_eq!(p.raw.get(), "{}");
        assert_eq!(p.event, "webhook");
    }

    #[test]
    fn a_body_of_only_whitespace_is_not_json() {
        let e = parse(" \n\t").unwrap_err();
        assert!(e.0.contains("invalid JSON payload"), "{e}");
    }

    #[test]
    fn nesting_past_the_limit_is_refused_naming_it() {
        let deep = format!("{{\"data\":{}{}}}", "[".repeat(128), "]".repeat(128));
        let e = Payload::parse(deep.as_bytes(), SenderHints::default(), 128).unwrap_err();
        assert!(e.0.contains("deeper than 128 levels"), "{e}");
        assert!(Payload::parse(deep.as_bytes(), SenderHints::default(), 129).is_ok());
    }

    #[test]
    fn github_and_gitlab_headers_name_the_event() {
        let gh = SenderHints {
            github_event: Some("pull_request"),
            gitlab_event: None,
        };
        let p = Payload::parse(br#"{"action":"opened"}"#, gh, DEFAULT_MAX_DEPTH).unwrap();
        assert_eq!(
            (p.event.as_str(), p.source.as_str()),
            ("pull_request.opened", "github")
        );
        let p = Payload::parse(br#"{"action":7}"#, gh, DEFAULT_MAX_DEPTH).unwrap();
        assert_eq!(p.event, "pull_request");
        let gl = SenderHints {
            github_event: None,
            gitlab_event: Some("Push Hook"),
        };
        let p = Payload::parse(b"{}", gl, DEFAULT_MAX_DEPTH).unwrap();
        assert_eq!(
            (p.event.as_str(), p.source.as_str()),
            ("Push Hook", "gitlab")
        );
    }

    #[test]
    fn bad_payloads_are_refused_with_a_pointer() {
        for (body, needle) in [
            ("{", "EOF"),
            ("{} x", "trailing"),
            ("[1]", "an array"),
            ("\"s\"", "a string"),
            ("null", "null"),
            ("42", "a number"),
            (r#"{"event":1}"#, "`event` must be a string"),
            (r#"{"source":{}}"#, "`source` must be a string"),
            (r#"{"event":"a","event":"b"}"#, "duplicate"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.0.contains(needle), "{body:?}: {err}");
        }
    }
}
