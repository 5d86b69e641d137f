//! Test doubles for the one fault the ingress tests cannot provoke otherwise: a run store or run
//! queue that is down. Each wraps the real in-memory adapter and fails only while told to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::ids::{AgentId, RunId};
use crewship_core::intake::SeparateIntake;
use crewship_core::queue::{Delivery, QueueError, RunQueue};
use crewship_core::run::{Lease, Run, RunStatus};
use crewship_core::store::{LeaseRenewal, Page, RunFilter, RunStore, StoreError};
use time::OffsetDateTime;

use super::App;

/// Switches for the faults; both off at first.
#[derive(Default)]
pub struct Faults {
    pub store_create_fails: AtomicBool,
    pub queue_send_fails: AtomicBool,
}

impl Faults {
    pub fn fail_store(&self, on: bool) {
        self.store_create_fails.store(on, Ordering::SeqCst);
    }
    pub fn fail_queue(&self, on: bool) {
        self.queue_send_fails.store(on, Ordering::SeqCst);
    }
}

fn down() -> Box<dyn std::error::Error + Send + Sync> {
    "injected outage".into()
}

pub struct FaultyStore {
    inner: Arc<dyn RunStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl RunStore for FaultyStore {
    async fn create(&self, run: &Run) -> Result<(), StoreError> {
        if self.faults.store_create_fails.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(down()));
        }
        self.inner.create(run).await
    }
    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.inner.get(id).await
    }
    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        self.inner.update(run, prev).await
    }
    async fn claim_within(&self, run: &mut Run, cap: u32) -> Result<bool, StoreError> {
        self.inner.claim_within(run, cap).await
    }
    async fn list_by_agent(
        &self,
        agent: &AgentId,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        self.inner.list_by_agent(agent, filter, limit, cursor).await
    }
    async fn count_by_status(&self, agent: &AgentId, status: RunStatus) -> Result<u64, StoreError> {
        self.inner.count_by_status(agent, status).await
    }
    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError> {
        self.inner.expired_leases(now).await
    }
    async fn renew_lease(&self, id: &RunId, lease: &Lease) -> Result<LeaseRenewal, StoreError> {
        self.inner.renew_lease(id, lease).await
    }
    async fn queued_created_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Run>, StoreError> {
        self.inner.queued_created_between(from, to).await
    }
}

pub struct FaultyQueue {
    inner: Arc<dyn RunQueue>,
    faults: Arc<Faults>,
}

#[async_trait]
impl RunQueue for FaultyQueue {
    async fn send(&self, run: &RunId) -> Result<(), QueueError> {
        if self.faults.queue_send_fails.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable(down()));
        }
        self.inner.send(run).await
    }
    async fn send_delayed(&self, run: &RunId, delay: Duration) -> Result<(), QueueError> {
        if self.faults.queue_send_fails.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable(down()));
        }
        self.inner.send_delayed(run, delay).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.ack(receipt).await
    }
    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.inner.extend(receipt, visibility).await
    }
}

/// The standard app, with its run store and queue wrapped in switchable faults.
pub fn faulty_app() -> (App, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let app = super::app_with_ports(
        vec![super::agent("a1", "c1", "ws")],
        super::config(),
        |ports| {
            ports.runs = Arc::new(FaultyStore {
                inner: ports.runs.clone(),
                faults: faults.clone(),
            });
            ports.queue = Arc::new(FaultyQueue {
                inner: ports.queue.clone(),
                faults: faults.clone(),
            });
            // The intake writes through the faulty store and queue, as it does through the
            // real ones: in memory those are two writes.
            ports.intake = Arc::new(SeparateIntake::new(
                ports.runs.clone(),
                ports.queue.clone(),
                ports.clock.clone(),
            ));
        },
    );
    (app, faults)
}
