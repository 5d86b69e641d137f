//! The trigger use case (`docs/webhooks.md` steps 4–13): from a request read off the transport to a
//! run recorded and queued, or a typed refusal. The transport (the handler) only reads the request
//! and maps the answer to HTTP.
//!
//! - [`request`]: the request as the use case reads it, and credential precedence.
//! - [`timestamp`]: the timestamp check of step 5.
//! - [`dedup`]: the delivery keys (`docs/webhooks.md`, Deduplication) and the reservation guard
//!   that releases them.
//! - [`admission`]: the rate limiter, the queued cap, and the quota guard that refunds a token.
//! - [`filter`]: the agent's event filter, and the FILTERED run a skipped delivery becomes.
//! - [`form`]: GitHub's form-encoded bodies.
//! - [`error`]: why a request was refused, with its class, code and quota.

pub mod admission;
pub mod dedup;
pub mod error;
pub mod filter;
pub mod form;
pub mod request;
pub mod timestamp;

use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::agent::Agent;
use crate::auth::{Credential, Unverified, Verified};
use crate::ids::{AgentId, CrewId, RunId};
use crate::intake::IntakeError;
use crate::payload::Payload;
use crate::ports::Ports;
use crate::run::{AuthScheme, NewRun, Run};
use crate::sources::origin::{self, OriginError, Reading, SenderEvents};
use crate::store::Reservation;

pub use admission::{Quota, QuotaGuard, RateLimiter};
pub use dedup::ReservationGuard;
pub use error::{ErrorClass, IngestError, Rejection};
pub use request::{CredentialHeaders, Presented, SenderHeaders, TriggerRequest};
pub use timestamp::TimestampError;

/// The settings the use case reads.
#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    pub timestamp_tolerance: Duration,
    pub dedup_window: Duration,
    pub legacy_secret_sunset: OffsetDateTime,
    /// Deepest nesting a payload may have (`json_depth`).
    pub max_json_depth: usize,
}

/// What an accepted request became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new run, recorded QUEUED and enqueued; `quota` feeds the `RateLimit-*` headers.
    Created { run_id: RunId, quota: Quota },
    /// The agent's event filter skipped the delivery: a FILTERED run, recorded and never queued.
    Filtered { run_id: RunId, quota: Quota },
    /// A delivery already seen within the window: the original run, nothing created.
    Duplicate { original: RunId },
    /// Slack's signed `url_verification`: answered `200` with the challenge, nothing created.
    Challenge(String),
}

/// An accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub outcome: Outcome,
    /// `X-Webhook-Secret` authenticated it: the answer carries the deprecation headers.
    pub legacy_secret: bool,
}

/// `docs/webhooks.md` steps 4–13, in order. Every failure after a reservation or a token was taken
/// gives them back (the guards), so nothing is left behind that a retry would trip over.
pub async fn accept(
    ports: &Ports,
    limiter: &RateLimiter,
    settings: &IngestSettings,
    request: TriggerRequest,
) -> Result<Accepted, IngestError> {
    let now = ports.clock.now();
    let Authenticated {
        agent,
        request,
        verified,
    } = authenticate(ports, settings, now, request).await?;
    let scheme = verified.scheme();
    let legacy_secret = scheme == AuthScheme::LegacySecret;
    let with_flag = |rejection| IngestError {
        rejection,
        legacy_secret,
    };

    // Step 7: the agent's policy.
    if agent.require_timestamp && !scheme.is_timestamped() {
        return Err(with_flag(Rejection::TimestampRequired));
    }
    // The legacy header keeps working exactly as before until its own sunset (step 6).
    if scheme.strength() < agent.min_auth_strength && scheme != AuthScheme::LegacySecret {
        return Err(with_flag(Rejection::AuthTooWeak {
            scheme,
            required: agent.min_auth_strength,
        }));
    }
    // Steps 8–9: the body. GitHub hooks configured as form-encoded sign the raw form and carry
    // the JSON in its `payload` field.
    let form_payload = match scheme {
        AuthScheme::GitHub if request.declares_form() => {
            Some(form::payload_field(verified.body()).ok_or_else(|| {
                with_flag(Rejection::InvalidPayload(form::MISSING_PAYLOAD.into()))
            })?)
        }
        _ => None,
    };
    let body: &[u8] = form_payload.as_deref().unwrap_or(verified.body());
    if form_payload.is_none() && !request.declares_json(body) {
        return Err(with_flag(Rejection::UnsupportedMediaType));
    }
    let mut payload = Payload::parse_as(
        body,
        request.sender_hints(),
        settings.max_json_depth,
        scheme.reads_envelope(),
    )
    .map_err(|e| with_flag(Rejection::InvalidPayload(e.0)))?;
    let events = SenderEvents {
        gitlab_event: request.gitlab_event.as_deref(),
        shopify_topic: request.shopify_topic.as_deref(),
    };
    let mut delivery_id = request.delivery_id.clone();
    match origin::of(scheme, payload.raw.get(), events, now) {
        Err(OriginError::StaleLinearTimestamp) => {
            return Err(with_flag(Rejection::StaleTimestamp {
                tolerance_secs: origin::LINEAR_TOLERANCE_SECS as u64,
            }));
        }
        Ok(Some(Reading::SlackChallenge(challenge))) => {
            return Ok(Accepted {
                outcome: Outcome::Challenge(challenge),
                legacy_secret,
            });
        }
        Ok(Some(Reading::Run(origin))) => {
            payload.event = origin.event;
            payload.source = origin.source;
            delivery_id = delivery_id.or(origin.delivery_id);
        }
        Ok(None) => {}
    }

    // Step 10: deduplication.
    let keys = dedup::keys(delivery_id.as_deref(), &verified);
    let run_id = RunId::generate();
    let reservation = ports
        .dedup
        .reserve(&agent.id, &keys, &run_id, now, now + settings.dedup_window)
        .await
        .map_err(|e| with_flag(Rejection::unavailable("run store", e)))?;
    if let Reservation::Duplicate(original) = reservation {
        tracing::info!(agent_id = %agent.id, run_id = %original, "duplicate delivery replayed");
        return Ok(Accepted {
            outcome: Outcome::Duplicate { original },
            legacy_secret,
        });
    }
    let reservation =
        ReservationGuard::new(ports.dedup.clone(), agent.id.clone(), keys, run_id.clone());

    // Steps 11–12, under the reservation: released on any failure, kept once recorded. A
    // delivery the event filter skips keeps its reservation too, so a re-send answers its
    // FILTERED run instead of recording another.
    let runs = filter::runs(&agent, &payload.event, payload.raw.get());
    let new = NewRun {
        id: run_id,
        event: payload.event,
        source: payload.source,
        auth_scheme: scheme,
        delivery_id,
        payload: payload.raw,
    };
    let run = Run::queued(&agent, new, now);
    let recorded = if runs {
        admit_and_record(ports, limiter, &agent, run).await
    } else {
        let run_id = run.id.clone();
        filter::record(ports, limiter, &agent, run)
            .await
            .map(|quota| (run_id, quota))
    };
    let (run_id, quota) = match recorded {
        Ok(recorded) => {
            reservation.commit();
            recorded
        }
        Err(rejection) => {
            reservation.release().await;
            return Err(with_flag(rejection));
        }
    };
    tracing::info!(
        agent_id = %agent.id,
        crew_id = %agent.crew_id,
        run_id = %run_id,
        scheme = ?scheme,
        bytes = verified.body().len(),
        filtered = !runs,
        "webhook accepted"
    );
    let outcome = if runs {
        Outcome::Created { run_id, quota }
    } else {
        Outcome::Filtered { run_id, quota }
    };
    Ok(Accepted {
        outcome,
        legacy_secret,
    })
}

/// A request whose credential verified against its agent; the body now lives in `verified`.
struct Authenticated {
    agent: Agent,
    request: TriggerRequest,
    verified: Verified,
}

/// Steps 4–6: credentials present, timestamp, the sunset of the plaintext secret, then the
/// agent and its secret.
async fn authenticate(
    ports: &Ports,
    settings: &IngestSettings,
    now: OffsetDateTime,
    mut request: TriggerRequest,
) -> Result<Authenticated, Rejection> {
    let presented = std::mem::replace(&mut request.credential, Presented::Nothing);
    let credential = match presented {
        Presented::Nothing => return Err(Rejection::MissingCredentials),
        Presented::IncompleteStandardWebhooks => {
            return Err(Rejection::IncompleteStandardWebhooks);
        }
        Presented::Credential(credential) => credential,
    };
    if let Some(ts) = credential.timestamp() {
        timestamp::check(ts, now, settings.timestamp_tolerance).map_err(|e| match e {
            TimestampError::Invalid => Rejection::InvalidTimestamp,
            TimestampError::Stale => Rejection::StaleTimestamp {
                tolerance_secs: settings.timestamp_tolerance.as_secs(),
            },
        })?;
    }
    if matches!(credential, Credential::LegacySecret(_)) && now > settings.legacy_secret_sunset {
        return Err(Rejection::LegacySecretRetired);
    }

    let agent = lookup(ports, &request.crew, &request.agent).await?;
    let scheme = credential.scheme();
    let body = std::mem::take(&mut request.body);
    match (Unverified { credential, body }).authenticate(agent.as_ref(), now) {
        Ok(verified) => {
            let agent = agent.expect("only a known agent verifies");
            Ok(Authenticated {
                agent,
                request,
                verified,
            })
        }
        Err(unverified) => {
            let body = &unverified.body;
            tracing::warn!(
                agent_id = agent.as_ref().map(|a| a.id.as_str()).unwrap_or("<unknown>"),
                scheme = ?scheme,
                bytes = body.len(),
                "webhook authentication failed"
            );
            Err(Rejection::InvalidCredentials {
                scheme,
                body_len: body.len(),
                body_sha256: hex::encode(Sha256::digest(body)),
            })
        }
    }
}

/// The agent the path names, if it exists and belongs to that crew. Ids that cannot exist are
/// treated like unknown agents, so the answer does not depend on which check failed.
async fn lookup(ports: &Ports, crew: &str, agent: &str) -> Result<Option<Agent>, Rejection> {
    let (Ok(crew), Ok(agent)) = (crew.parse::<CrewId>(), agent.parse::<AgentId>()) else {
        return Ok(None);
    };
    let found = ports
        .agents
        .get(&agent)
        .await
        .map_err(|e| Rejection::unavailable("agent registry", e))?;
    Ok(found.filter(|a| a.crew_id == crew))
}

/// Steps 11–12: admission, then the run recorded and enqueued together ([`crate::intake::RunIntake`]). The
/// token is spent once the run is recorded, even if it could not be queued (it was then
/// finished FAILED, so none is left QUEUED without a queue message).
pub(crate) async fn admit_and_record(
    ports: &Ports,
    limiter: &RateLimiter,
    agent: &Agent,
    run: Run,
) -> Result<(RunId, Quota), Rejection> {
    let token = admission::admit(limiter, ports.runs.as_ref(), agent).await?;
    match ports.intake.record(&run).await {
        Ok(()) => Ok((run.id, token.commit())),
        Err(IntakeError::Store(e)) => Err(Rejection::unavailable("run store", e)),
        Err(IntakeError::Queue(e)) => {
            token.commit();
            announce_if_finished(ports, &run.id).await;
            Err(Rejection::unavailable("run queue", e))
        }
    }
}

/// Every terminal transition is announced once, whichever path made it: a run whose enqueue
/// failed may have been finished FAILED by the intake (backends without a common transaction),
/// or not written at all (SQLite rolls both back).
async fn announce_if_finished(ports: &Ports, run_id: &RunId) {
    if let Ok(Some(run)) = ports.runs.get(run_id).await
        && run.status.is_terminal()
    {
        crate::callbacks::announce::finished(ports, run).await;
    }
}
