//! Reading claude-code's `--output-format stream-json` output: one JSON object per line
//! (`system`, `assistant`, `user`, `result`), each turned into log entries with an `event` of
//! `text`, `tool_call`, `tool_result`, `result` or `error`.
//!
//! Lines that are not JSON, or JSON of a shape this module does not know, are kept verbatim as
//! plain `output`: a newer claude-code must never make a line disappear. A line longer than the
//! runtime's line limit arrives split, its pieces are not JSON and are kept as plain output too.

use crewship_core::run::Usage;
use serde::Deserialize;
use serde_json::Value;

/// One log entry made from a line: its level, event and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub level: &'static str,
    pub event: &'static str,
    pub content: String,
}

impl Parsed {
    fn new(level: &'static str, event: &'static str, content: impl Into<String>) -> Self {
        Self {
            level,
            event,
            content: content.into(),
        }
    }
}

/// What claude-code's final `result` line said: its answer, whether it failed, and what the
/// run cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub text: String,
    pub is_error: bool,
    pub usage: Usage,
}

/// The entries of one stdout line, and what it reported if it is a `result` line.
pub fn parse_line(line: &str) -> (Vec<Parsed>, Option<Reported>) {
    let plain = || (vec![Parsed::new("info", "output", line)], None);
    if !line.trim_start().starts_with('{') {
        return plain();
    }
    match serde_json::from_str::<Line>(line) {
        Ok(Line::Assistant { message }) | Ok(Line::User { message }) => {
            let entries: Vec<Parsed> = message.content.iter().filter_map(block).collect();
            if entries.is_empty() {
                plain()
            } else {
                (entries, None)
            }
        }
        Ok(Line::Result {
            is_error,
            result,
            subtype,
            total_cost_usd,
            num_turns,
            usage,
        }) => {
            let text = result.unwrap_or_else(|| subtype.unwrap_or_default());
            let level = if is_error { "error" } else { "info" };
            let reported = Reported {
                text: text.clone(),
                is_error,
                usage: Usage {
                    cost_usd: total_cost_usd,
                    input_tokens: usage.as_ref().and_then(|u| u.input_tokens),
                    output_tokens: usage.as_ref().and_then(|u| u.output_tokens),
                    num_turns,
                },
            };
            (vec![Parsed::new(level, "result", text)], Some(reported))
        }
        Ok(Line::Error { error, message }) => {
            let text = message
                .or_else(|| error.map(|e| compact(&e)))
                .unwrap_or_else(|| line.to_owned());
            (vec![Parsed::new("error", "error", text)], None)
        }
        Ok(Line::System { subtype, model }) => {
            let mut text = format!("claude-code {}", subtype.as_deref().unwrap_or("system"));
            if let Some(model) = model {
                text.push_str(&format!(" (model {model})"));
            }
            (vec![Parsed::new("debug", "system", text)], None)
        }
        Err(_) => plain(),
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    System {
        subtype: Option<String>,
        model: Option<String>,
    },
    Assistant {
        message: Message,
    },
    User {
        message: Message,
    },
    Result {
        #[serde(default)]
        is_error: bool,
        result: Option<String>,
        subtype: Option<String>,
        total_cost_usd: Option<f64>,
        num_turns: Option<u32>,
        usage: Option<TokenUsage>,
    },
    Error {
        error: Option<Value>,
        message: Option<String>,
    },
}

/// The `usage` object of a `result` line; its cache counters are left out.
#[derive(Deserialize)]
struct TokenUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Message {
    /// A plain string in some user messages; only block arrays carry tool traffic.
    #[serde(default, deserialize_with = "blocks")]
    content: Vec<Value>,
}

fn blocks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
        _ => Vec::new(),
    })
}

fn block(b: &Value) -> Option<Parsed> {
    match b.get("type")?.as_str()? {
        "text" => Some(Parsed::new("info", "text", b.get("text")?.as_str()?)),
        "tool_use" => {
            let name = b.get("name").and_then(Value::as_str).unwrap_or("tool");
            let input = b.get("input").map(compact).unwrap_or_default();
            Some(Parsed::new("info", "tool_call", format!("{name} {input}")))
        }
        "tool_result" => {
            let failed = b.get("is_error").and_then(Value::as_bool) == Some(true);
            let content = match b.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Some(other) => compact(other),
                None => String::new(),
            };
            let level = if failed { "error" } else { "info" };
            Some(Parsed::new(level, "tool_result", content))
        }
        // Thinking and other block kinds carry nothing for the log.
        _ => None,
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(line: &str) -> Vec<(&'static str, String)> {
        parse_line(line)
            .0
            .into_iter()
            .map(|p| (p.event, p.content))
            .collect()
    }

    #[test]
    fn assistant_blocks_become_text_and_tool_calls() {
        let line = r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}"#;
        assert_eq!(
            events(line),
            [
                ("text", "Looking.".to_owned()),
                ("tool_call", r#"Bash {"command":"ls"}"#.to_owned())
            ]
        );
    }

    #[test]
    fn tool_results_with_string_or_array_content() {
        let s = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"a\nb"}]}}"#;
        let a = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"boom"}]}]}}"#;
        assert_eq!(events(s), [("tool_result", "a\nb".to_owned())]);
        let (parsed, _) = parse_line(a);
        assert_eq!((parsed[0].event, parsed[0].level), ("tool_result", "error"));
        assert_eq!(parsed[0].content, "boom");
    }

    #[test]
    fn result_line_reports_its_answer_errors_and_cost() {
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","num_turns":3,"total_cost_usd":0.0123,"usage":{"input_tokens":1200,"output_tokens":345,"cache_read_input_tokens":9}}"#;
        let bad = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"result":"API error"}"#;
        let reported = parse_line(ok).1.unwrap();
        assert_eq!((reported.text.as_str(), reported.is_error), ("done", false));
        assert_eq!(
            reported.usage,
            Usage {
                cost_usd: Some(0.0123),
                input_tokens: Some(1200),
                output_tokens: Some(345),
                num_turns: Some(3),
            }
        );
        assert_eq!(events(ok), [("result", "done".to_owned())]);
        let reported = parse_line(bad).1.unwrap();
        assert_eq!(
            (reported.text.as_str(), reported.is_error),
            ("API error", true)
        );
        assert_eq!(reported.usage, Usage::default());
    }

    #[test]
    fn unknown_and_non_json_lines_are_kept_verbatim() {
        for line in [
            "plain words",
            "{not json",
            r#"{"type":"stream_event","x":1}"#,
            r#"{"no_type":true}"#,
        ] {
            assert_eq!(events(line), [("output", line.to_owned())], "{line}");
        }
    }

    #[test]
    fn error_lines_become_error_events() {
        let line = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let (parsed, reported) = parse_line(line);
        assert_eq!(parsed[0].event, "error");
        assert!(parsed[0].content.contains("Overloaded"));
        assert_eq!(reported, None);
    }
}
