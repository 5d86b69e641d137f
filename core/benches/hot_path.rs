//! Micro-benchmarks of the trigger path's building blocks (criterion; `cargo bench -p
//! crewship-core`): signature verification, the `Data:` rendering of a GitHub `pull_request`
//! payload, the dedup reservation and a queue round-trip on the in-memory adapters.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use crewship_core::agent::{Adapter, Agent};
use crewship_core::auth::{Credential, Unverified};
use crewship_core::ids::{AgentId, RunId};
use crewship_core::message::render_data;
use crewship_core::payload::{Payload, SenderHints};
use crewship_core::queue::{MemoryQueue, RunQueue};
use crewship_core::secret::Secret;
use crewship_core::signer::Signer;
use crewship_core::store::{DedupStore, MemoryStore};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use time::OffsetDateTime;

const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
const PULL_REQUEST: &str = include_str!("fixtures/github_pull_request.json");

fn agent() -> Agent {
    Agent {
        id: "agent".parse().unwrap(),
        crew_id: "crew".parse().unwrap(),
        workspace_id: "ws".parse().unwrap(),
        name: "agent".into(),
        adapter: Adapter::Command,
        command: vec!["true".into()],
        model: None,
        env: BTreeMap::new(),
        webhook_secret: Some(Secret::new(SECRET)),
        previous_secret: None,
        require_timestamp: false,
        timeout_secs: None,
        rate_limit_per_min: 1_000_000,
        max_queued_runs: 1_000_000,
        max_concurrent_runs: 1,
        isolation: Default::default(),
        sources: Vec::new(),
        min_auth_strength: Default::default(),
        events: Default::default(),
        callback: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn signature_verification(c: &mut Criterion) {
    let agent = agent();
    let mut group = c.benchmark_group("authenticate");
    for (name, size) in [("1KiB", 1024usize), ("1MiB", 1024 * 1024)] {
        let body = Bytes::from(vec![b'x'; size]);
        let tag = Signer::new(SECRET).signature(&body);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| {
                let request = Unverified {
                    credential: Credential::signature(&tag, None),
                    body: body.clone(),
                };
                let verified = request.authenticate(Some(&agent), OffsetDateTime::UNIX_EPOCH);
                assert!(verified.is_ok());
                black_box(verified.is_ok())
            })
        });
    }
    group.finish();
}

fn data_rendering(c: &mut Criterion) {
    let payload = Payload::parse(
        PULL_REQUEST.as_bytes(),
        SenderHints {
            github_event: Some("pull_request"),
            gitlab_event: None,
        },
        crewship_core::json_depth::DEFAULT_MAX_DEPTH,
    )
    .unwrap();
    let data = Payload::data_of(&payload.raw).to_owned();
    let mut group = c.benchmark_group("render_data");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("github_pull_request", |b| {
        b.iter(|| black_box(render_data(black_box(&data))))
    });
    group.finish();
}

fn dedup_reservation(c: &mut Criterion) {
    let rt = runtime();
    let store = MemoryStore::new();
    let agent: AgentId = "agent".parse().unwrap();
    let now = OffsetDateTime::UNIX_EPOCH;
    let expires = now + Duration::from_secs(86_400);
    let mut n = 0u64;
    c.bench_function("dedup_reserve/new_delivery", |b| {
        b.iter(|| {
            n += 1;
            let keys = [format!("d:{n:064x}"), format!("s:{n:064x}:")];
            let run = RunId::generate();
            black_box(rt.block_on(store.reserve(&agent, &keys, &run, now, expires)))
        })
    });
}

fn queue_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let queue = MemoryQueue::new(Duration::from_secs(60));
    let run = RunId::generate();
    c.bench_function("memory_queue/send_receive_ack", |b| {
        b.iter(|| {
            rt.block_on(async {
                queue.send(&run).await.unwrap();
                let got = queue.receive(1, Duration::ZERO).await.unwrap();
                queue.ack(&got[0].receipt).await.unwrap();
            })
        })
    });
}

criterion_group!(
    benches,
    signature_verification,
    data_rendering,
    dedup_reservation,
    queue_round_trip
);
criterion_main!(benches);
