//! API Gateway's message limits applied to protocol frames.
//!
//! A WebSocket API accepts at most 128 KiB per `PostToConnection` and sends it to the client
//! in frames of at most 32 KiB (WebSocket fragmentation, invisible to a client library, which
//! reassembles the message). So one protocol frame stays one message, and only a frame over
//! 128 KiB must change:
//!
//! - an `agent.log` frame is split into pieces, each a complete `agent.log` frame with the
//!   same `seq` and a `part` / `parts` pair in its payload (1-based), the content cut on
//!   character boundaries; concatenating the pieces' `content` in order restores the line.
//!   Only a line of heavily escaped output can get there (the executor caps a line at 64 KiB).
//! - a `run.*` frame loses its `payload` field (the webhook body, up to 1 MiB), replaced by
//!   `"payload_omitted": true`; `GET /api/v1/runs/{id}` has it. If it is still too large (an
//!   answer of 64 KiB that escapes to more than twice that), its `result` goes the same way,
//!   `"result_omitted": true`.
//!
//! Lines are never coalesced into one message: the protocol is one JSON frame per message,
//! the same as the local `/ws`.

use std::collections::BTreeMap;

use crewship_core::broadcast::BroadcastEvent;
use crewship_core::ids::WorkspaceId;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Largest `PostToConnection` body.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// The messages that carry `event` to a client, each at most [`MAX_MESSAGE_BYTES`].
pub fn messages(event: &BroadcastEvent, workspace: &WorkspaceId) -> Vec<String> {
    fit(event.to_frame(workspace))
}

/// The same for a frame already rendered (a replayed one).
pub fn fit(frame: String) -> Vec<String> {
    if frame.len() <= MAX_MESSAGE_BYTES {
        return vec![frame];
    }
    let Ok(kind) = serde_json::from_str::<Kind>(&frame) else {
        return Vec::new();
    };
    if kind.kind == "agent.log" {
        // A log frame carries a line of output, never a webhook body: its depth is fixed.
        return serde_json::from_str(&frame).map_or_else(|_| Vec::new(), split_log);
    }
    let mut frame = frame;
    for field in ["payload", "result"] {
        match without(&frame, field) {
            None => return Vec::new(),
            Some(smaller) if smaller.len() <= MAX_MESSAGE_BYTES => return vec![smaller],
            Some(smaller) => frame = smaller,
        }
    }
    tracing::warn!(
        bytes = frame.len(),
        "run frame over the message limit dropped"
    );
    Vec::new()
}

/// The frame's `type`; the rest is skipped without being built.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

/// A run frame with its record's `field` (`payload`, the webhook body, or `result`) replaced by
/// `null` and `"<field>_omitted": true`. Both levels are read as raw JSON, so the body is
/// copied, never walked: it may nest as deep as the ingest limit allows, which a `Value` would
/// refuse or recurse into.
fn without(frame: &str, field: &str) -> Option<String> {
    type Raw = Box<RawValue>;
    let mut top: BTreeMap<String, Raw> = serde_json::from_str(frame).ok()?;
    if let Some(record) = top.get("payload") {
        let mut record: BTreeMap<String, Raw> = serde_json::from_str(record.get()).ok()?;
        let raw = |text: &str| RawValue::from_string(text.to_owned()).expect("valid JSON");
        record.insert(field.into(), raw("null"));
        record.insert(format!("{field}_omitted"), raw("true"));
        let record = RawValue::from_string(serde_json::to_string(&record).ok()?).ok()?;
        top.insert("payload".into(), record);
    }
    serde_json::to_string(&top).ok()
}

fn split_log(value: Value) -> Vec<String> {
    let content = value["payload"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Halve the piece size until every piece fits: escaping makes the size of a piece's
    // frame depend on its characters, not only on its length.
    let mut budget = MAX_MESSAGE_BYTES / 2;
    loop {
        let pieces = chunks(&content, budget);
        let parts = pieces.len();
        let frames: Vec<String> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let mut frame = value.clone();
                frame["payload"]["content"] = Value::String((*piece).to_owned());
                frame["payload"]["part"] = Value::from(i + 1);
                frame["payload"]["parts"] = Value::from(parts);
                frame.to_string()
            })
            .collect();
        if frames.iter().all(|f| f.len() <= MAX_MESSAGE_BYTES) || budget < 1024 {
            return frames;
        }
        budget /= 2;
    }
}

/// `text` cut into pieces of at most `max` bytes, on character boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    if pieces.is_empty() {
        pieces.push("");
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_frame(content: &str) -> String {
        json!({"type": "agent.log", "channel": "workspace:w",
               "payload": {"seq": 7, "run_id": "run_1", "content": content}})
        .to_string()
    }

    #[test]
    fn frames_within_the_limit_are_one_message_unchanged() {
        let frame = log_frame(&"x".repeat(100 * 1024));
        assert_eq!(fit(frame.clone()), [frame]);
    }

    #[test]
    fn an_oversized_escaped_line_is_split_into_ordered_parts_that_restore_it() {
        // Control characters escape to six bytes each: 64 KiB of them is a 384 KiB frame.
        let content: String = "\u{1}é\u{2}".repeat(64 * 1024 / 4);
        let messages = fit(log_frame(&content));
        assert!(messages.len() > 1);
        let mut restored = String::new();
        for (i, message) in messages.iter().enumerate() {
            assert!(message.len() <= MAX_MESSAGE_BYTES);
            let v: Value = serde_json::from_str(message).unwrap();
            assert_eq!(v["payload"]["seq"], 7);
            assert_eq!(v["payload"]["part"], i + 1);
            assert_eq!(v["payload"]["parts"], messages.len());
            restored.push_str(v["payload"]["content"].as_str().unwrap());
        }
        assert_eq!(restored, content);
    }

    #[test]
    fn an_oversized_run_frame_omits_the_webhook_payload() {
        let frame = json!({"type": "run.started", "channel": "workspace:w",
            "payload": {"id": "run_1", "payload": {"blob": "y".repeat(200 * 1024)}}})
        .to_string();
        let messages = fit(frame);
        assert_eq!(messages.len(), 1);
        let v: Value = serde_json::from_str(&messages[0]).unwrap();
        assert_eq!(v["payload"]["id"], "run_1");
        assert_eq!(v["payload"]["payload"], Value::Null);
        assert_eq!(v["payload"]["payload_omitted"], true);
    }

    #[test]
    fn a_run_frame_whose_escaped_result_is_still_too_large_omits_it_too() {
        let result = "\u{1}".repeat(64 * 1024);
        let frame = json!({"type": "run.completed", "channel": "workspace:w",
            "payload": {"id": "run_1", "payload": {"a": 1}, "result": result}})
        .to_string();
        assert!(frame.len() > 2 * MAX_MESSAGE_BYTES);
        let out = fit(frame);
        assert_eq!(out.len(), 1);
        assert!(out[0].len() <= MAX_MESSAGE_BYTES);
        let v: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["payload"]["id"], "run_1");
        assert_eq!(v["payload"]["result_omitted"], true);
        assert_eq!(v["payload"]["payload_omitted"], true);
    }

    #[test]
    fn a_run_frame_with_a_payload_as_deep_as_any_limit_allows_is_still_sent() {
        let depth = crewship_core::json_depth::MAX_CONFIGURABLE_DEPTH;
        let body = format!(
            r#"{{"data":{}"{}"{}}}"#,
            "[".repeat(depth - 1),
            "y".repeat(200 * 1024),
            "]".repeat(depth - 1)
        );
        let frame = format!(
            r#"{{"type":"run.completed","channel":"workspace:w","payload":{{"id":"run_1","payload":{body}}}}}"#
        );
        let messages = fit(frame);
        assert_eq!(messages.len(), 1, "the frame was dropped");
        let v: Value = serde_json::from_str(&messages[0]).unwrap();
        assert_eq!(v["type"], "run.completed");
        assert_eq!(v["payload"]["id"], "run_1");
        assert_eq!(v["payload"]["payload_omitted"], true);
    }
}
