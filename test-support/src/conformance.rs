//! Port behaviour every adapter set must show, written once against `Ports` and run unchanged
//! through [`conformance_suite!`](crate::conformance_suite) by the in-memory adapters and
//! DynamoDB, SQS and S3 on moto (crewship-aws's tests) and the SQLite adapters (crewship-core's
//! tests). The outbox's behaviours are in `callbacks`.

mod callbacks;

pub use callbacks::*;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::ids::{AgentId, RunId};
use crewship_core::log::{LogEntry, Stream};
use crewship_core::logs::LogQuery;
use crewship_core::ports::Ports;
use crewship_core::registry::AgentScope;
use crewship_core::run::{AuthScheme, Lease, NewRun, Run, RunStatus, TriggerType};

use crate::AgentBuilder;
use crewship_core::store::{LeaseRenewal, Reservation, RunFilter, StoreError};
use serde_json::value::RawValue;
use time::OffsetDateTime;

/// Generates one `#[tokio::test]` per behaviour, each calling `$setup().await` for a fresh
/// `(Ports, guard)`. The calling crate needs `tokio` (macros, multi-thread runtime).
#[macro_export]
macro_rules! conformance_suite {
    ($setup:path) => {
        $crate::conformance_suite!(@tests $setup;
            callbacks_are_one_per_run_and_read_back,
            callbacks_are_claimed_once_and_recorded_conditionally,
            created_runs_read_back_exactly,
            large_payloads_round_trip,
            transitions_are_conditional_on_status_and_version,
            terminal_runs_never_change,
            updating_an_unknown_run_is_not_found,
            concurrent_reserves_of_one_key_yield_exactly_one_reserved,
            reservations_are_atomic_expire_and_release_only_by_their_holder,
            listing_pages_through_250_runs_newest_first,
            filtered_listing_pages_through_matching_runs_only,
            counts_by_status,
            claims_hold_the_agents_cap,
            logs_keep_seq_order_and_honour_after,
            expired_leases_lists_only_running_runs_past_their_lease,
            queued_runs_are_listed_by_creation_time_while_queued,
            lease_renewals_write_the_lease_only_while_the_owner_holds_it,
            delayed_messages_are_fresh_and_hidden_until_their_delay,
            unacked_messages_redeliver_after_the_visibility_timeout,
            acked_messages_are_gone,
            extended_messages_stay_hidden,
            agents_round_trip_with_their_secrets,
            agent_compare_and_swap_writes_only_over_the_expected_record,
            chats_are_created_once,
            recorded_runs_are_stored_and_queued_together,
        );
    };
    (@tests $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (ports, _guard) = $setup().await;
                $crate::conformance::$name(&ports).await;
            }
        )*
    };
}

pub fn agent(id: &str) -> Agent {
    AgentBuilder::new(id)
        .env("API_KEY", "credential-value")
        .secret("current-secret-value")
        .previous_secret(
            "previous-secret-value",
            OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap(),
        )
        .build()
}

pub fn new_run(agent: &Agent, payload: &str) -> Run {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    Run::queued(
        agent,
        NewRun {
            id: RunId::generate(),
            event: "push".into(),
            source: "ci".into(),
            auth_scheme: AuthScheme::Signature,
            delivery_id: Some("d-1".into()),
            payload: Arc::from(RawValue::from_string(payload.to_owned()).unwrap()),
        },
        now,
    )
}

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

async fn claim(ports: &Ports, run: &mut Run, lease_until: OffsetDateTime) {
    run.status = RunStatus::Running;
    run.started_at = Some(t(1));
    run.attempt += 1;
    run.lease = Some(Lease {
        owner: "executor-a".into(),
        expires_at: lease_until,
    });
    ports.runs.update(run, RunStatus::Queued).await.unwrap();
}

async fn finish(ports: &Ports, run: &mut Run, status: RunStatus) {
    run.finish(status, Some(0), None, t(5));
    ports.runs.update(run, RunStatus::Running).await.unwrap();
}

/// `run` as the executor's claim makes it RUNNING, before `claim_within` writes it.
fn running(mut run: Run) -> Run {
    run.status = RunStatus::Running;
    run.started_at = Some(t(1));
    run.attempt += 1;
    run.lease = Some(Lease {
        owner: "executor-a".into(),
        expires_at: t(60),
    });
    run
}

/// `n` new QUEUED runs of `agent`, stored.
async fn queued_runs(ports: &Ports, agent: &Agent, n: usize) -> Vec<Run> {
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n {
        let run = new_run(agent, "{}");
        ports.runs.create(&run).await.unwrap();
        runs.push(run);
    }
    runs
}

/// Claims within an agent's cap of two: two win, a third writes nothing until a finished run
/// frees its slot; other agents have caps of their own; a stale claim is a conflict.
pub async fn claims_hold_the_agents_cap(ports: &Ports) {
    let a = agent("agent-a");
    let queued = queued_runs(ports, &a, 4).await;
    let mut winners = Vec::new();
    for run in &queued[..2] {
        let mut run = running(run.clone());
        assert!(ports.runs.claim_within(&mut run, 2).await.unwrap());
        winners.push(run);
    }
    let mut refused = running(queued[2].clone());
    assert!(!ports.runs.claim_within(&mut refused, 2).await.unwrap());
    let stored = ports.runs.get(&refused.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        RunStatus::Queued,
        "a refused claim wrote nothing"
    );
    assert_eq!(stored.version, queued[2].version);
    assert_eq!(
        ports
            .runs
            .count_by_status(&a.id, RunStatus::Running)
            .await
            .unwrap(),
        2
    );

    let b = agent("agent-b");
    let other = new_run(&b, "{}");
    ports.runs.create(&other).await.unwrap();
    assert!(
        ports
            .runs
            .claim_within(&mut running(other), 1)
            .await
            .unwrap()
    );

    finish(ports, &mut winners[0], RunStatus::Completed).await;
    assert!(
        ports
            .runs
            .claim_within(&mut running(queued[2].clone()), 2)
            .await
            .unwrap()
    );
    assert!(
        !ports
            .runs
            .claim_within(&mut running(queued[3].clone()), 2)
            .await
            .unwrap()
    );

    let mut stale = running(queued[2].clone());
    assert!(matches!(
        ports.runs.claim_within(&mut stale, 100).await,
        Err(StoreError::Conflict {
            current: RunStatus::Running,
            ..
        })
    ));
}

/// Six claims of one agent's six queued runs at once, under a cap of two: exactly two win, the
/// rest write nothing. Not in the suite's list: it needs a store that isolates concurrent
/// writes, which moto's DynamoDB does not for transactions (it snapshots the table and restores
/// the snapshot when one fails); the memory and SQLite sets call it themselves.
pub async fn concurrent_claims_hold_the_agents_cap(ports: &Ports) {
    let a = agent("agent-a");
    let queued = queued_runs(ports, &a, 6).await;
    let claims: Vec<_> = queued
        .into_iter()
        .map(|run| {
            let ports = ports.clone();
            tokio::spawn(async move {
                let mut run = running(run);
                let won = ports.runs.claim_within(&mut run, 2).await.unwrap();
                (won, run)
            })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        let (claimed, run) = claim.await.unwrap();
        let stored = ports.runs.get(&run.id).await.unwrap().unwrap();
        if claimed {
            won += 1;
            assert_eq!(stored.status, RunStatus::Running);
        } else {
            assert_eq!(
                stored.status,
                RunStatus::Queued,
                "a refused claim wrote nothing"
            );
        }
    }
    assert_eq!(won, 2, "the cap of two held");
    assert_eq!(
        ports
            .runs
            .count_by_status(&a.id, RunStatus::Running)
            .await
            .unwrap(),
        2
    );
}

pub async fn created_runs_read_back_exactly(ports: &Ports) {
    let a = agent("agent-a");
    // Numbers keep their spelling: the payload is stored as received.
    let run = new_run(
        &a,
        r#"{"event":"push","data":{"n":1.50,"big":12345678901234567890}}"#,
    );
    ports.runs.create(&run).await.unwrap();
    let back = ports.runs.get(&run.id).await.unwrap().expect("stored");
    assert_eq!(back.payload.get(), run.payload.get());
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&run).unwrap()
    );
    assert_eq!(back.version, run.version);
    assert_eq!(back.lease, None);
    assert!(!back.cancel_requested);
    assert!(matches!(
        ports.runs.create(&run).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(ports.runs.get(&RunId::generate()).await.unwrap().is_none());
}

pub async fn large_payloads_round_trip(ports: &Ports) {
    // Near the 1 MiB body limit: more than a DynamoDB item holds.
    let blob = "x".repeat(900 * 1024);
    let payload = format!(r#"{{"event":"big","data":{{"blob":"{blob}"}}}}"#);
    let run = new_run(&agent("agent-a"), &payload);
    ports.runs.create(&run).await.unwrap();
    let mut back = ports.runs.get(&run.id).await.unwrap().expect("stored");
    assert_eq!(back.payload.get(), payload);
    claim(ports, &mut back, t(100)).await;
    let again = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(again.status, RunStatus::Running);
    assert_eq!(again.payload.get(), payload, "updates keep the payload");
    let page = ports
        .runs
        .list_by_agent(&run.agent_id, &RunFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(page.items[0].payload.get(), payload);
}

pub async fn transitions_are_conditional_on_status_and_version(ports: &Ports) {
    let mut run = new_run(&agent("agent-a"), "{}");
    ports.runs.create(&run).await.unwrap();
    let stale = run.clone();
    claim(ports, &mut run, t(30)).await;
    assert_eq!(run.version, stale.version + 1);
    let stored = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Running);
    assert_eq!(stored.version, run.version);
    assert_eq!(stored.lease, run.lease);

    // A second claimer read the QUEUED run before: its write loses.
    let mut other = stale.clone();
    other.status = RunStatus::Running;
    match ports.runs.update(&mut other, RunStatus::Queued).await {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current, RunStatus::Running),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Right status, stale version: loses too.
    let mut old_version = stored.clone();
    old_version.version -= 1;
    assert!(matches!(
        ports
            .runs
            .update(&mut old_version, RunStatus::Running)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // A heartbeat with the current version wins.
    let mut beat = stored.clone();
    beat.lease = Some(Lease {
        owner: "executor-a".into(),
        expires_at: t(60),
    });
    beat.cancel_requested = true;
    ports
        .runs
        .update(&mut beat, RunStatus::Running)
        .await
        .unwrap();
    let stored = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.lease.unwrap().expires_at, t(60));
    assert!(stored.cancel_requested);
}

pub async fn terminal_runs_never_change(ports: &Ports) {
    let mut run = new_run(&agent("agent-a"), "{}");
    ports.runs.create(&run).await.unwrap();
    claim(ports, &mut run, t(30)).await;
    finish(ports, &mut run, RunStatus::Completed).await;
    let stored = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Completed);
    assert_eq!(stored.lease, None);
    assert_eq!(stored.duration_ms, Some(4000));

    let mut again = stored.clone();
    again.status = RunStatus::Failed;
    for prev in [RunStatus::Completed, RunStatus::Running, RunStatus::Queued] {
        match ports.runs.update(&mut again, prev).await {
            Err(StoreError::Conflict { current, .. }) => assert_eq!(current, RunStatus::Completed),
            other => panic!("terminal run changed from {prev}: {other:?}"),
        }
    }
    let stored = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Completed);
}

pub async fn updating_an_unknown_run_is_not_found(ports: &Ports) {
    let mut run = new_run(&agent("agent-a"), "{}");
    assert!(matches!(
        ports.runs.update(&mut run, RunStatus::Queued).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn concurrent_reserves_of_one_key_yield_exactly_one_reserved(ports: &Ports) {
    let agent: AgentId = "agent-a".parse().unwrap();
    let runs: Vec<RunId> = (0..12).map(|_| RunId::generate()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for run in runs.clone() {
        let ports = ports.clone();
        let agent = agent.clone();
        tasks.spawn(async move {
            let keys = vec!["delivery-1".to_owned()];
            let r = ports
                .dedup
                .reserve(&agent, &keys, &run, t(0), t(3600))
                .await
                .unwrap();
            (run, r)
        });
    }
    let outcomes = tasks.join_all().await;
    let winners: Vec<&RunId> = outcomes
        .iter()
        .filter(|(_, r)| *r == Reservation::Reserved)
        .map(|(run, _)| run)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (_, r) in &outcomes {
        if let Reservation::Duplicate(holder) = r {
            assert_eq!(holder, winners[0]);
        }
    }
}

pub async fn reservations_are_atomic_expire_and_release_only_by_their_holder(ports: &Ports) {
    let agent: AgentId = "agent-a".parse().unwrap();
    let other_agent: AgentId = "agent-b".parse().unwrap();
    let keys = |ks: &[&str]| ks.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
    let (r1, r2, r3) = (RunId::generate(), RunId::generate(), RunId::generate());
    let d = &ports.dedup;
    assert_eq!(
        d.reserve(&agent, &keys(&["a", "b"]), &r1, t(0), t(10))
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // All or nothing: b is taken, so c is not reserved either.
    assert_eq!(
        d.reserve(&agent, &keys(&["b", "c"]), &r2, t(1), t(11))
            .await
            .unwrap(),
        Reservation::Duplicate(r1.clone())
    );
    assert_eq!(
        d.reserve(&agent, &keys(&["c"]), &r3, t(1), t(11))
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // Keys are per agent.
    assert_eq!(
        d.reserve(&other_agent, &keys(&["a"]), &r2, t(1), t(11))
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // Only the holder releases.
    d.release(&agent, &keys(&["a", "b"]), &r2).await.unwrap();
    assert_eq!(
        d.reserve(&agent, &keys(&["a"]), &r2, t(2), t(12))
            .await
            .unwrap(),
        Reservation::Duplicate(r1.clone())
    );
    d.release(&agent, &keys(&["a"]), &r1).await.unwrap();
    d.release(&agent, &keys(&["a"]), &r1).await.unwrap();
    assert_eq!(
        d.reserve(&agent, &keys(&["a"]), &r2, t(2), t(12))
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // After the window, b is free again although nothing deleted it.
    assert_eq!(
        d.reserve(&agent, &keys(&["b"]), &r3, t(10), t(20))
            .await
            .unwrap(),
        Reservation::Reserved
    );
}

/// 250 runs of one agent (every third COMPLETED), and a few of another agent.
async fn seed_250(ports: &Ports) -> (AgentId, Vec<RunId>) {
    let a = agent("agent-a");
    let b = agent("agent-b");
    let mut ids = Vec::new();
    for i in 0..250 {
        let mut run = new_run(&a, "{}");
        ports.runs.create(&run).await.unwrap();
        if i % 3 == 0 {
            claim(ports, &mut run, t(30)).await;
            finish(ports, &mut run, RunStatus::Completed).await;
        }
        ids.push(run.id.clone());
        if i % 50 == 0 {
            ports.runs.create(&new_run(&b, "{}")).await.unwrap();
        }
    }
    ids.reverse();
    (a.id, ids)
}

async fn page_all(ports: &Ports, agent: &AgentId, filter: &RunFilter, limit: usize) -> Vec<Run> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ports
            .runs
            .list_by_agent(agent, filter, limit, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= limit);
        if let Some(next) = &page.next {
            assert_eq!(page.items.len(), limit, "only the last page may be short");
            // Bulk replay resumes mid-page with a cursor it builds from a run id.
            let last = &page.items.last().expect("a full page").id;
            assert_eq!(&ports.runs.cursor_after(last), next);
        }
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

pub async fn listing_pages_through_250_runs_newest_first(ports: &Ports) {
    let (agent, newest_first) = seed_250(ports).await;
    let listed = page_all(ports, &agent, &RunFilter::default(), 40).await;
    let ids: Vec<RunId> = listed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, newest_first);
    assert!(listed.iter().all(|r| r.agent_id == agent));
    // Exactly one full page: no cursor to an empty page.
    let page = ports
        .runs
        .list_by_agent(&agent, &RunFilter::default(), 250, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 250);
    assert!(page.next.is_none());
    assert!(matches!(
        ports
            .runs
            .list_by_agent(&agent, &RunFilter::default(), 10, Some("not a cursor!"))
            .await,
        Err(StoreError::BadCursor)
    ));
}

pub async fn filtered_listing_pages_through_matching_runs_only(ports: &Ports) {
    let (agent, newest_first) = seed_250(ports).await;
    let completed = RunFilter {
        trigger: Some(TriggerType::Webhook),
        status: Some(RunStatus::Completed),
    };
    let listed = page_all(ports, &agent, &completed, 15).await;
    assert_eq!(listed.len(), 84);
    assert!(listed.iter().all(|r| r.status == RunStatus::Completed));
    let expected: Vec<&RunId> = newest_first
        .iter()
        .rev()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, id)| id)
        .rev()
        .collect();
    let ids: Vec<&RunId> = listed.iter().map(|r| &r.id).collect();
    assert_eq!(ids, expected);
    let queued = RunFilter {
        trigger: None,
        status: Some(RunStatus::Queued),
    };
    assert_eq!(page_all(ports, &agent, &queued, 7).await.len(), 166);
    let failed = RunFilter {
        trigger: None,
        status: Some(RunStatus::Failed),
    };
    let page = ports
        .runs
        .list_by_agent(&agent, &failed, 10, None)
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

pub async fn counts_by_status(ports: &Ports) {
    let a = agent("agent-a");
    let mut runs = Vec::new();
    for _ in 0..5 {
        let run = new_run(&a, "{}");
        ports.runs.create(&run).await.unwrap();
        runs.push(run);
    }
    claim(ports, &mut runs[0], t(30)).await;
    claim(ports, &mut runs[1], t(30)).await;
    finish(ports, &mut runs[1], RunStatus::Failed).await;
    let count = |s| ports.runs.count_by_status(&a.id, s);
    assert_eq!(count(RunStatus::Queued).await.unwrap(), 3);
    assert_eq!(count(RunStatus::Running).await.unwrap(), 1);
    assert_eq!(count(RunStatus::Failed).await.unwrap(), 1);
    assert_eq!(count(RunStatus::Completed).await.unwrap(), 0);
    let other: AgentId = "agent-b".parse().unwrap();
    assert_eq!(
        ports
            .runs
            .count_by_status(&other, RunStatus::Queued)
            .await
            .unwrap(),
        0
    );
}

pub fn entry(run: &RunId, agent: &AgentId, seq: u64) -> LogEntry {
    LogEntry {
        run_id: run.clone(),
        agent_id: agent.clone(),
        seq,
        ts: t(seq as i64),
        stream: Stream::Stdout,
        level: "info".into(),
        event: "output".into(),
        content: format!("line {seq}"),
    }
}

pub async fn logs_keep_seq_order_and_honour_after(ports: &Ports) {
    let a: AgentId = "agent-a".parse().unwrap();
    let b: AgentId = "agent-b".parse().unwrap();
    let (r1, r2) = (RunId::generate(), RunId::generate());
    let first: Vec<LogEntry> = (1..=30).map(|s| entry(&r1, &a, s)).collect();
    ports.logs.append(&first).await.unwrap();
    // A retried batch does not duplicate lines.
    ports.logs.append(&first[25..]).await.unwrap();
    ports
        .logs
        .append(&(1..=3).map(|s| entry(&r2, &a, s)).collect::<Vec<_>>())
        .await
        .unwrap();
    let q = |run: Option<&RunId>, agent: &AgentId, after, limit| LogQuery {
        agent: agent.clone(),
        run: run.cloned(),
        after,
        limit,
    };
    let got = ports
        .logs
        .query(&q(Some(&r1), &a, None, 100))
        .await
        .unwrap();
    assert_eq!(got, first);
    let got = ports
        .logs
        .query(&q(Some(&r1), &a, Some(27), 100))
        .await
        .unwrap();
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [28, 29, 30]);
    let got = ports
        .logs
        .query(&q(Some(&r1), &a, Some(5), 4))
        .await
        .unwrap();
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 7, 8, 9]);
    // Another agent's query never sees these lines.
    assert!(
        ports
            .logs
            .query(&q(Some(&r1), &b, None, 100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ports
            .logs
            .query(&q(None, &b, None, 100))
            .await
            .unwrap()
            .is_empty()
    );
    // Per agent: run by run, each in seq order.
    let got = ports.logs.query(&q(None, &a, None, 100)).await.unwrap();
    let order: Vec<(RunId, u64)> = got.iter().map(|e| (e.run_id.clone(), e.seq)).collect();
    let mut expected: Vec<(RunId, u64)> = (1..=30).map(|s| (r1.clone(), s)).collect();
    expected.extend((1..=3).map(|s| (r2.clone(), s)));
    assert_eq!(order, expected);
    assert_eq!(
        ports
            .logs
            .query(&q(None, &a, None, 31))
            .await
            .unwrap()
            .len(),
        31
    );
}

pub async fn expired_leases_lists_only_running_runs_past_their_lease(ports: &Ports) {
    let a = agent("agent-a");
    let mut expired = new_run(&a, "{}");
    let mut alive = new_run(&a, "{}");
    let queued = new_run(&a, "{}");
    let mut done = new_run(&a, "{}");
    for run in [&expired, &alive, &queued, &done] {
        ports.runs.create(run).await.unwrap();
    }
    claim(ports, &mut expired, t(10)).await;
    claim(ports, &mut alive, t(100)).await;
    claim(ports, &mut done, t(10)).await;
    finish(ports, &mut done, RunStatus::Completed).await;
    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<HashSet<_>>();
    assert_eq!(
        ids(ports.runs.expired_leases(t(50)).await.unwrap()),
        HashSet::from([expired.id.clone()])
    );
    assert_eq!(
        ids(ports.runs.expired_leases(t(200)).await.unwrap()),
        HashSet::from([expired.id.clone(), alive.id.clone()])
    );
    assert!(ports.runs.expired_leases(t(5)).await.unwrap().is_empty());
    // Renewed, it is no longer expired.
    expired.lease = Some(Lease {
        owner: "executor-a".into(),
        expires_at: t(100),
    });
    ports
        .runs
        .update(&mut expired, RunStatus::Running)
        .await
        .unwrap();
    assert!(ports.runs.expired_leases(t(50)).await.unwrap().is_empty());
}

pub async fn queued_runs_are_listed_by_creation_time_while_queued(ports: &Ports) {
    let a = agent("agent-a");
    let mut runs = Vec::new();
    for age in [30, 20, 10] {
        let mut run = new_run(&a, "{}");
        run.created_at = t(-age);
        ports.runs.create(&run).await.unwrap();
        runs.push(run);
    }
    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    // Oldest first; `to` is exclusive.
    assert_eq!(
        ids(ports
            .runs
            .queued_created_between(t(-30), t(-10))
            .await
            .unwrap()),
        [runs[0].id.clone(), runs[1].id.clone()]
    );
    assert!(
        ports
            .runs
            .queued_created_between(t(-9), t(100))
            .await
            .unwrap()
            .is_empty()
    );
    // A run that left QUEUED is no longer listed.
    claim(ports, &mut runs[1], t(100)).await;
    assert_eq!(
        ids(ports
            .runs
            .queued_created_between(t(-60), t(0))
            .await
            .unwrap()),
        [runs[0].id.clone(), runs[2].id.clone()]
    );
}

pub async fn lease_renewals_write_the_lease_only_while_the_owner_holds_it(ports: &Ports) {
    let a = agent("agent-a");
    let mut run = new_run(&a, r#"{"keep":1.50}"#);
    ports.runs.create(&run).await.unwrap();
    claim(ports, &mut run, t(10)).await;
    let renewed = Lease {
        owner: "executor-a".into(),
        expires_at: t(40),
    };
    assert_eq!(
        ports.runs.renew_lease(&run.id, &renewed).await.unwrap(),
        LeaseRenewal::Renewed {
            cancel_requested: false
        }
    );
    let read = ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(read.lease.as_ref(), Some(&renewed));
    assert!(read.version > run.version, "a renewal bumps the version");
    assert_eq!(read.payload.get(), r#"{"keep":1.50}"#);
    assert_eq!(read.status, RunStatus::Running);
    // No longer expired at t(20); a stale writer's conditional update loses.
    assert!(ports.runs.expired_leases(t(20)).await.unwrap().is_empty());
    assert!(matches!(
        ports
            .runs
            .update(&mut run.clone(), RunStatus::Running)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // A cancel request comes back with the next renewal.
    let mut cancelled = read.clone();
    cancelled.cancel_requested = true;
    ports
        .runs
        .update(&mut cancelled, RunStatus::Running)
        .await
        .unwrap();
    assert_eq!(
        ports.runs.renew_lease(&run.id, &renewed).await.unwrap(),
        LeaseRenewal::Renewed {
            cancel_requested: true
        }
    );
    // Another owner, or a finished run: lost.
    let other = Lease {
        owner: "executor-b".into(),
        expires_at: t(60),
    };
    assert_eq!(
        ports.runs.renew_lease(&run.id, &other).await.unwrap(),
        LeaseRenewal::Lost
    );
    let mut done = ports.runs.get(&run.id).await.unwrap().unwrap();
    finish(ports, &mut done, RunStatus::Completed).await;
    assert_eq!(
        ports.runs.renew_lease(&run.id, &renewed).await.unwrap(),
        LeaseRenewal::Lost
    );
}

const WAIT: Duration = Duration::from_secs(4);

pub async fn delayed_messages_are_fresh_and_hidden_until_their_delay(ports: &Ports) {
    let run = RunId::generate();
    ports
        .queue
        .send_delayed(&run, Duration::from_secs(3))
        .await
        .unwrap();
    assert!(
        ports
            .queue
            .receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "delivered before its delay"
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got = ports.queue.receive(1, WAIT).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1, "delivered after its delay");
    assert_eq!((got[0].run_id.clone(), got[0].receive_count), (run, 1));
    ports.queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn unacked_messages_redeliver_after_the_visibility_timeout(ports: &Ports) {
    let run = RunId::generate();
    ports.queue.send(&run).await.unwrap();
    let first = ports.queue.receive(10, WAIT).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].run_id, run);
    assert_eq!(first[0].receive_count, 1);
    ports
        .queue
        .extend(&first[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    let mut again = Vec::new();
    for _ in 0..5 {
        again = ports.queue.receive(10, WAIT).await.unwrap();
        if !again.is_empty() {
            break;
        }
    }
    assert_eq!(again.len(), 1, "the message came back");
    assert_eq!(again[0].run_id, run);
    assert_eq!(again[0].receive_count, 2);
    ports.queue.ack(&again[0].receipt).await.unwrap();
}

pub async fn acked_messages_are_gone(ports: &Ports) {
    let run = RunId::generate();
    ports.queue.send(&run).await.unwrap();
    let got = ports.queue.receive(1, WAIT).await.unwrap();
    assert_eq!(got.len(), 1);
    // Would reappear after a second if it were still there.
    ports
        .queue
        .extend(&got[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    ports.queue.ack(&got[0].receipt).await.unwrap();
    assert!(ports.queue.receive(1, WAIT).await.unwrap().is_empty());
}

pub async fn extended_messages_stay_hidden(ports: &Ports) {
    let run = RunId::generate();
    ports.queue.send(&run).await.unwrap();
    let got = ports.queue.receive(1, WAIT).await.unwrap();
    assert_eq!(got.len(), 1);
    ports
        .queue
        .extend(&got[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    // A lease extension while the run executes keeps it hidden past the short timeout.
    ports
        .queue
        .extend(&got[0].receipt, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(ports.queue.receive(1, WAIT).await.unwrap().is_empty());
    ports.queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn agents_round_trip_with_their_secrets(ports: &Ports) {
    let a = agent("agent-a");
    let mut b = agent("agent-b");
    b.crew_id = "crew-2".parse().unwrap();
    let mut c = agent("agent-c");
    c.workspace_id = "ws-2".parse().unwrap();
    for x in [&c, &b, &a] {
        ports.agents.put(x.clone()).await.unwrap();
    }
    assert_eq!(ports.agents.get(&a.id).await.unwrap(), Some(a.clone()));
    let ids = |v: Vec<Agent>| v.into_iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(ports
            .agents
            .list(&AgentScope::Workspace("ws".parse().unwrap()))
            .await
            .unwrap()),
        ["agent-a", "agent-b"]
    );
    assert_eq!(
        ids(ports
            .agents
            .list(&AgentScope::Crew("crew-2".parse().unwrap()))
            .await
            .unwrap()),
        ["agent-b"]
    );
    assert!(ports.agents.delete(&a.id).await.unwrap());
    assert!(!ports.agents.delete(&a.id).await.unwrap());
    assert_eq!(ports.agents.get(&a.id).await.unwrap(), None);
}

/// Secret rotation's read-modify-write: of two writers that read the same record, one wins.
pub async fn agent_compare_and_swap_writes_only_over_the_expected_record(ports: &Ports) {
    let first = agent("agent-cas");
    assert!(
        ports
            .agents
            .compare_and_swap(None, first.clone())
            .await
            .unwrap()
    );
    assert!(
        !ports
            .agents
            .compare_and_swap(None, first.clone())
            .await
            .unwrap()
    );
    let mut rotated = first.clone();
    rotated.webhook_secret = Some(crewship_core::secret::Secret::new("r".repeat(64)));
    let mut other = first.clone();
    other.name = "renamed".into();
    assert!(
        ports
            .agents
            .compare_and_swap(Some(&first), rotated.clone())
            .await
            .unwrap()
    );
    assert!(
        !ports
            .agents
            .compare_and_swap(Some(&first), other)
            .await
            .unwrap(),
        "a writer holding a stale record must lose"
    );
    assert_eq!(ports.agents.get(&first.id).await.unwrap(), Some(rotated));
}

pub async fn chats_are_created_once(ports: &Ports) {
    assert!(
        ports
            .chats
            .ensure("webhook-agent-a", "Webhook: a")
            .await
            .unwrap()
    );
    assert!(
        !ports
            .chats
            .ensure("webhook-agent-a", "other")
            .await
            .unwrap()
    );
    assert_eq!(
        ports
            .chats
            .title("webhook-agent-a")
            .await
            .unwrap()
            .as_deref(),
        Some("Webhook: a")
    );
    assert_eq!(ports.chats.title("webhook-agent-b").await.unwrap(), None);
}

/// The intake: a run recorded is both stored QUEUED and queued; a taken id records nothing.
pub async fn recorded_runs_are_stored_and_queued_together(ports: &Ports) {
    let run = new_run(&agent("agent-a"), r#"{"event":"push"}"#);
    ports.intake.record(&run).await.unwrap();
    let stored = ports.runs.get(&run.id).await.unwrap().expect("stored");
    assert_eq!(stored.status, RunStatus::Queued);
    assert!(matches!(
        ports.intake.record(&run).await,
        Err(crewship_core::intake::IntakeError::Store(
            StoreError::AlreadyExists(_)
        ))
    ));
    let got = ports.queue.receive(10, WAIT).await.unwrap();
    assert_eq!(
        got.iter().map(|d| d.run_id.to_string()).collect::<Vec<_>>(),
        [run.id.to_string()],
        "one message, for the run"
    );
    ports.queue.ack(&got[0].receipt).await.unwrap();
}
