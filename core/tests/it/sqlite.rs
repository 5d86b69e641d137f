//! The port conformance suite over the SQLite adapters, each test on a fresh file; then what
//! only a store on disk has: the file survives a reopen, secrets are sealed in it, one process
//! owns it at a time.

use std::time::Duration;

use crewship_core::ports::Ports;
use crewship_core::sqlite::{SqliteOptions, SqlitePorts};
use crewship_test_support::conformance_suite;

fn options(dir: &tempfile::TempDir) -> SqliteOptions {
    SqliteOptions {
        path: dir.path().join("crewship.db"),
        secrets_key: None,
        queue_visibility: Duration::from_secs(30),
    }
}

async fn setup() -> (Ports, (tempfile::TempDir, SqlitePorts)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlitePorts::open(&options(&dir)).unwrap();
    (sqlite.ports.clone(), (dir, sqlite))
}

conformance_suite!(setup);

// Outside the suite's list: it needs a store that isolates concurrent writes (moto does not).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_hold_the_agents_cap() {
    let (ports, _guard) = setup().await;
    crewship_test_support::conformance::concurrent_claims_hold_the_agents_cap(&ports).await;
}

fn ids(deliveries: &[crewship_core::queue::Delivery]) -> std::collections::HashSet<String> {
    deliveries.iter().map(|d| d.run_id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_file_keeps_everything_and_takes_over_what_was_in_flight() {
    use crewship_core::run::{Lease, RunStatus};
    use crewship_core::secret::Secret;
    use crewship_core::store::Reservation;
    use crewship_test_support::conformance::{agent, new_run};
    use time::OffsetDateTime;

    let dir = tempfile::tempdir().unwrap();
    let a = agent("agent-a");
    let (queued, mut running) = (new_run(&a, "{}"), new_run(&a, r#"{"n":1}"#));
    let now = OffsetDateTime::now_utc();
    let token = {
        let sqlite = SqlitePorts::open(&options(&dir)).unwrap();
        let ports = &sqlite.ports;
        ports.agents.put(a.clone()).await.unwrap();
        ports.intake.record(&queued).await.unwrap();
        ports.intake.record(&running).await.unwrap();
        // The dead process had received both messages and claimed one run, far from expiry.
        let got = ports
            .queue
            .receive(2, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        running.status = RunStatus::Running;
        running.lease = Some(Lease {
            owner: "dead".into(),
            expires_at: now + time::Duration::hours(1),
        });
        ports
            .runs
            .update(&mut running, RunStatus::Queued)
            .await
            .unwrap();
        let keys = vec!["delivery-1".to_owned()];
        let reserved = ports
            .dedup
            .reserve(
                &a.id,
                &keys,
                &queued.id,
                now,
                now + time::Duration::hours(1),
            )
            .await
            .unwrap();
        assert_eq!(reserved, Reservation::Reserved);
        assert!(ports.chats.ensure("webhook-agent-a", "t").await.unwrap());
        let (token, fresh) = sqlite
            .store
            .keep_generated("internal_token", Secret::generate())
            .await
            .unwrap();
        assert!(fresh);
        token
    };

    let sqlite = SqlitePorts::open(&options(&dir)).unwrap();
    assert_eq!(sqlite.recovered.queued, 1);
    assert_eq!(sqlite.recovered.running, 1);
    assert_eq!(sqlite.recovered.messages, 2);
    let ports = &sqlite.ports;
    assert_eq!(ports.agents.get(&a.id).await.unwrap(), Some(a.clone()));
    // The messages the dead process held are visible at once, not after their timeout.
    let got = ports
        .queue
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        ids(&got),
        [queued.id.to_string(), running.id.to_string()].into()
    );
    // Its lease is over: the executor's first sweep finishes it `executor lost`.
    let expired = ports.runs.expired_leases(now).await.unwrap();
    assert_eq!(
        expired.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [running.id.clone()]
    );
    let keys = vec!["delivery-1".to_owned()];
    let again = ports
        .dedup
        .reserve(
            &a.id,
            &keys,
            &running.id,
            now,
            now + time::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(again, Reservation::Duplicate(queued.id.clone()));
    assert!(!ports.chats.ensure("webhook-agent-a", "t").await.unwrap());
    let (kept, fresh) = sqlite
        .store
        .keep_generated("internal_token", Secret::generate())
        .await
        .unwrap();
    assert!(!fresh);
    assert_eq!(kept.expose(), token.expose());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_secrets_are_sealed_in_the_file_and_a_wrong_key_stops_the_open() {
    use crewship_core::secret::Secret;
    use crewship_test_support::conformance::agent;

    let dir = tempfile::tempdir().unwrap();
    {
        let sqlite = SqlitePorts::open(&options(&dir)).unwrap();
        sqlite.ports.agents.put(agent("agent-a")).await.unwrap();
    }
    let mut raw = Vec::new();
    for file in ["crewship.db", "crewship.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            raw.extend(bytes);
        }
    }
    assert!(raw.windows(7).any(|w| w == b"agent-a"));
    for secret in [
        "current-secret-value",
        "previous-secret-value",
        "credential-value",
    ] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} stored in plaintext"
        );
    }
    let mut wrong = options(&dir);
    wrong.secrets_key = Some(Secret::new("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="));
    // The agents are opened at start: a wrong key stops the start instead of failing later.
    assert!(matches!(
        SqlitePorts::open(&wrong),
        Err(crewship_core::sqlite::SqliteError::Seal(_))
    ));
}

#[tokio::test]
async fn one_process_owns_the_file_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqlitePorts::open(&options(&dir)).unwrap();
    assert!(matches!(
        SqlitePorts::open(&options(&dir)),
        Err(crewship_core::sqlite::SqliteError::Locked(_))
    ));
    drop(first);
    SqlitePorts::open(&options(&dir)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_sweeps_the_file() {
    let (ports, guard) = setup().await;
    let retention = guard.1.retention.clone();
    crewship_test_support::retention::the_sweep_deletes_finished_runs_past_count_and_age_and_nothing_unfinished(&ports, &retention).await;
}
