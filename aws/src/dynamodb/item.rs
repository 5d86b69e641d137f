//! A run as a DynamoDB item and back.
//!
//! The item keeps the run's JSON (`doc`, without the payload) plus the attributes the keys,
//! indexes and conditions need, and the internal bookkeeping the JSON leaves out (lease,
//! cancellation flag, version). The payload sits apart (`payload` or an S3 reference in
//! `payload_ref`) so updates never rewrite it.

use crewship_core::run::{Lease, Run, RunStatus};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{Item, MalformedItem, epoch_ms, get_bool, get_n, get_s, n, s};

/// Payloads up to this size live in the item; larger ones in S3. DynamoDB's item limit is
/// 400 KB, and the rest of the run must fit beside the payload.
pub const INLINE_PAYLOAD_LIMIT: usize = 256 * 1024;

/// The value of the sparse `leased` attribute (partition key of `by_lease`).
pub const LEASED: &str = "RUNNING";

/// The value of the sparse `queued` attribute (partition key of `by_queued`), present only
/// while the run is QUEUED; the index's range key is `created_ms`.
pub const QUEUED: &str = "QUEUED";

pub fn agent_status(run: &Run) -> String {
    format!("{}#{}", run.agent_id, run.status)
}

/// The run's JSON without its payload.
pub fn doc(run: &Run) -> String {
    let mut value = serde_json::to_value(run).expect("a run always serialises");
    if let Some(obj) = value.as_object_mut() {
        obj.remove("payload");
    }
    value.to_string()
}

/// The attributes every write sets; `version` is the one the write stores.
pub fn mutable_attributes(
    run: &Run,
    version: u64,
) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)> {
    let mut attrs = vec![
        ("doc", s(doc(run))),
        ("status", s(run.status.as_str())),
        ("agent_status", s(agent_status(run))),
        ("version", n(version)),
        (
            "cancel_requested",
            aws_sdk_dynamodb::types::AttributeValue::Bool(run.cancel_requested),
        ),
    ];
    if run.status == RunStatus::Queued {
        attrs.push(("queued", s(QUEUED)));
    }
    if let Some(lease) = &run.lease {
        attrs.push(("lease_owner", s(lease.owner.clone())));
        attrs.push(("lease_expires", n(epoch_ms(lease.expires_at))));
        if run.status == RunStatus::Running {
            attrs.push(("leased", s(LEASED)));
        }
    }
    attrs
}

/// The attributes absent in this state (removed on update).
pub fn absent_attributes(run: &Run) -> Vec<&'static str> {
    let mut absent = match (&run.lease, run.status) {
        (None, _) => vec!["lease_owner", "lease_expires", "leased"],
        (Some(_), RunStatus::Running) => vec![],
        (Some(_), _) => vec!["leased"],
    };
    if run.status != RunStatus::Queued {
        absent.push("queued");
    }
    absent
}

/// The whole item of a new run, with the payload inline or as `payload_ref`, and the TTL
/// attribute `expires_at` (epoch seconds) when it expires.
pub fn new_item(run: &Run, payload_ref: Option<&str>, expires_at: Option<OffsetDateTime>) -> Item {
    let mut item: Item = mutable_attributes(run, run.version)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    item.insert("id".into(), s(run.id.as_str()));
    item.insert("agent_id".into(), s(run.agent_id.as_str()));
    item.insert("trigger".into(), s(run.trigger_type.as_str()));
    item.insert("created_ms".into(), n(epoch_ms(run.created_at)));
    if let Some(at) = expires_at {
        item.insert("expires_at".into(), n(at.unix_timestamp()));
    }
    match payload_ref {
        Some(key) => item.insert("payload_ref".into(), s(key)),
        None => item.insert("payload".into(), s(run.payload.get())),
    };
    item
}

/// Where the payload is: inline, or the S3 key to fetch it from.
pub enum StoredPayload {
    Inline(Box<RawValue>),
    External(String),
}

pub fn stored_payload(item: &Item) -> Result<StoredPayload, MalformedItem> {
    if let Ok(key) = get_s(item, "payload_ref") {
        return Ok(StoredPayload::External(key.to_owned()));
    }
    let raw = get_s(item, "payload")?;
    RawValue::from_string(raw.to_owned())
        .map(StoredPayload::Inline)
        .map_err(|e| MalformedItem(format!("payload: {e}")))
}

/// The run of an item, given its payload.
pub fn run_from_item(item: &Item, payload: &RawValue) -> Result<Run, MalformedItem> {
    let doc = get_s(item, "doc")?;
    // The payload is spliced back in as raw JSON, so that its numbers keep their spelling.
    let rest = doc
        .strip_prefix('{')
        .filter(|rest| rest.len() > 1)
        .ok_or_else(|| MalformedItem("doc is not a JSON object".into()))?;
    let json = format!("{{\"payload\":{},{rest}", payload.get());
    let mut run: Run =
        serde_json::from_str(&json).map_err(|e| MalformedItem(format!("doc: {e}")))?;
    run.version = get_n(item, "version")?;
    run.cancel_requested = get_bool(item, "cancel_requested");
    run.lease = match get_s(item, "lease_owner") {
        Ok(owner) => {
            let ms: i128 = get_n(item, "lease_expires")?;
            Some(Lease {
                owner: owner.to_owned(),
                expires_at: OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
                    .map_err(|e| MalformedItem(format!("lease_expires: {e}")))?,
            })
        }
        Err(_) => None,
    };
    Ok(run)
}
