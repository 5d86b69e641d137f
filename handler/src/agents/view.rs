//! The agent as the management API shows it: everything an operator configured, except the
//! secrets — `webhook_secret_set` instead of the secret, `env_keys` instead of `env`.

use crewship_core::agent::Agent;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `previous_secret_valid_until` is set while a rotated-out secret still verifies at `now`.
pub fn agent_view(agent: &Agent, now: OffsetDateTime) -> Value {
    json!({
        "id": agent.id,
        "crew_id": agent.crew_id,
        "workspace_id": agent.workspace_id,
        "name": agent.name,
        "adapter": agent.adapter,
        "command": agent.command,
        "model": agent.model,
        "env_keys": agent.env.keys().collect::<Vec<_>>(),
        "webhook_secret_set": agent.webhook_secret.as_ref().is_some_and(|s| !s.is_empty()),
        "previous_secret_valid_until": agent
            .previous_secret
            .as_ref()
            .filter(|p| now <= p.valid_until)
            .and_then(|p| p.valid_until.format(&Rfc3339).ok()),
        "require_timestamp": agent.require_timestamp,
        "timeout_secs": agent.timeout_secs,
        "rate_limit_per_min": agent.rate_limit_per_min,
        "max_queued_runs": agent.max_queued_runs,
        "max_concurrent_runs": agent.max_concurrent_runs,
        "isolation": agent.isolation,
        // Write-only secrets: a fingerprint tells them apart, never the secret.
        "sources": agent.sources.iter().map(|s| json!({
            "kind": s.kind,
            "secret_fingerprint": s.fingerprint(),
            "previous_secret_valid_until": s
                .previous
                .as_ref()
                .filter(|p| now <= p.valid_until)
                .and_then(|p| p.valid_until.format(&Rfc3339).ok()),
        })).collect::<Vec<_>>(),
        "min_auth_strength": agent.min_auth_strength,
        "events": agent.events.patterns(),
        "callback_url": agent.callback.as_ref().map(|c| &c.url),
        "callback_events": agent.callback.as_ref().map(|c| &c.events),
        "callback_secret_set": agent.callback.as_ref().is_some_and(|c| c.secret.is_some()),
        "webhook_path": format!("/api/v1/webhooks/{}/{}/trigger", agent.crew_id, agent.id),
    })
}
