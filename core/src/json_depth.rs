//! How deeply a JSON text nests, counted on the bytes before anything parses it
//! (`docs/webhooks.md`, Limits). Every walk over a payload — the `Data:` rendering, frames that
//! carry the run record, the dashboard — may then rely on a bounded depth; a body that nests
//! deeper is refused at the door instead of overflowing a stack later.

/// The depth a body may nest to unless configured otherwise (`server.max_json_depth`).
pub const DEFAULT_MAX_DEPTH: usize = 128;
/// The deepest limit that may be configured: every walk stays well inside a thread's stack.
pub const MAX_CONFIGURABLE_DEPTH: usize = 1024;

/// The text nests arrays and objects more than `limit` levels deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("JSON nests deeper than {limit} levels")]
pub struct TooDeep {
    pub limit: usize,
}

/// Checks that `bytes` nests at most `limit` levels. Brackets inside strings do not count; the
/// text need not be valid JSON (the parser that runs next says what else is wrong with it).
pub fn check(bytes: &[u8], limit: usize) -> Result<(), TooDeep> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(TooDeep { limit });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!(
            "{{\"data\":{}{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    }

    #[test]
    fn the_limit_itself_passes_and_one_more_level_does_not() {
        assert_eq!(check(nested(128).as_bytes(), 128), Ok(()));
        assert_eq!(
            check(nested(129).as_bytes(), 128),
            Err(TooDeep { limit: 128 })
        );
    }

    #[test]
    fn brackets_in_strings_and_escaped_quotes_do_not_count() {
        let text = format!(
            r#"{{"a":"{}\"{}","b":[]}}"#,
            "[".repeat(500),
            "{".repeat(500)
        );
        assert_eq!(check(text.as_bytes(), 2), Ok(()));
        assert_eq!(
            check(br#"{"a":"\\","b":[[]]}"#, 2),
            Err(TooDeep { limit: 2 })
        );
    }

    #[test]
    fn the_crashing_body_of_the_report_is_refused_without_recursion() {
        let body = format!("{{\"data\":{}{}}}", "[".repeat(30_000), "]".repeat(30_000));
        assert!(check(body.as_bytes(), DEFAULT_MAX_DEPTH).is_err());
        // Closers alone (invalid JSON) never underflow.
        assert_eq!(check("]}".repeat(10).as_bytes(), 1), Ok(()));
    }
}
