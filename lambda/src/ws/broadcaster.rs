//! [`ApiGatewayBroadcaster`]: the executor's [`Broadcaster`] in the cloud. Each event goes to
//! every connection subscribed to its workspace with one `PostToConnection` per frame;
//! connections that answer 410 GoneException lose their record.
//!
//! `publish` never waits: it hands the event to a bounded queue drained by one background
//! task, in order (so a client sees a run's frames in the order they were published). When
//! the queue is full the event is dropped with a log line; a client that missed frames can
//! resume with `after` from the stored log. Before a Lambda invocation returns, the executor
//! calls [`ApiGatewayBroadcaster::flush`], since a frozen function runs no background task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crewship_core::broadcast::{BroadcastEvent, Broadcaster};
use crewship_core::ids::WorkspaceId;
use tokio::sync::{mpsc, oneshot};

use super::connections::{ConnectionRecord, ConnectionStore};
use super::limits;
use super::poster::{PostError, Poster};

/// Events waiting for the background task before `publish` starts dropping.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Longest wait for one post: a connection API Gateway cannot deliver to in time must not
/// hold up the others (nor, through the queue, the run).
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);

enum Job {
    Publish(WorkspaceId, Box<BroadcastEvent>),
    Flush(oneshot::Sender<()>),
}

pub struct ApiGatewayBroadcaster {
    jobs: mpsc::Sender<Job>,
    dropped: AtomicU64,
}

impl ApiGatewayBroadcaster {
    /// Starts the background task on the current tokio runtime.
    pub fn spawn(
        store: Arc<dyn ConnectionStore>,
        poster: Arc<dyn Poster>,
        capacity: usize,
    ) -> Self {
        let (jobs, mut queue) = mpsc::channel(capacity.max(1));
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Publish(workspace, event) => {
                        fan_out(&*store, &*poster, &workspace, &event).await;
                    }
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self {
            jobs,
            dropped: AtomicU64::new(0),
        }
    }

    /// Waits until every event published before the call was posted (or given up on).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Broadcaster for ApiGatewayBroadcaster {
    fn publish(&self, workspace: &WorkspaceId, event: BroadcastEvent) {
        if let Err(e) = self
            .jobs
            .try_send(Job::Publish(workspace.clone(), Box::new(event)))
        {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "broadcaster stopped",
            };
            tracing::warn!(%workspace, reason, dropped_total = total, "live frame dropped");
        }
    }
}

async fn fan_out(
    store: &dyn ConnectionStore,
    poster: &dyn Poster,
    workspace: &WorkspaceId,
    event: &BroadcastEvent,
) {
    let subscribers = match store.subscribers(workspace).await {
        Ok(subscribers) => subscribers,
        Err(e) => {
            tracing::warn!(%workspace, error = %e, "subscribers unavailable; live frame dropped");
            return;
        }
    };
    if subscribers.is_empty() {
        return;
    }
    let messages = limits::messages(event, workspace);
    let deliveries = subscribers
        .into_iter()
        .map(|record| deliver(store, poster, record, event, &messages));
    futures_util::future::join_all(deliveries).await;
}

async fn deliver(
    store: &dyn ConnectionStore,
    poster: &dyn Poster,
    mut record: ConnectionRecord,
    event: &BroadcastEvent,
    messages: &[String],
) {
    let (run_id, seq) = event.position();
    let finished = matches!(event, BroadcastEvent::RunFinished(_));
    let replaying = record
        .resume
        .as_ref()
        .filter(|r| r.replaying && Some(&r.run_id) == run_id);
    if let (Some(resume), Some(run_id)) = (replaying, run_id) {
        match store
            .hold(&record.connection_id, run_id, seq, finished)
            .await
        {
            // The replay sends it when it hands over.
            Ok(true) => return,
            // It handed over meanwhile: decide on its final position.
            Ok(false) => match store.get(&record.connection_id).await {
                Ok(Some(fresh)) => record = fresh,
                _ => return,
            },
            Err(e) => {
                tracing::warn!(connection = %record.connection_id, run = %resume.run_id,
                    error = %e, "could not hold a frame back during a resume; posting it");
            }
        }
    }
    if record.replay_covers(event.frame_type(), run_id, seq) {
        return;
    }
    send_all(store, poster, &record.connection_id, messages).await;
}

/// Posts the messages in order; a gone connection loses its record. `false` once gone.
pub(crate) async fn send_all(
    store: &dyn ConnectionStore,
    poster: &dyn Poster,
    connection_id: &str,
    messages: &[String],
) -> bool {
    for message in messages {
        let posted = tokio::time::timeout(POST_TIMEOUT, poster.post(connection_id, message))
            .await
            .unwrap_or_else(|_| Err(PostError::Failed("timed out".into())));
        match posted {
            Ok(()) => {}
            Err(PostError::Gone) => {
                tracing::info!(
                    connection = connection_id,
                    "connection gone; record removed"
                );
                if let Err(e) = store.delete(connection_id).await {
                    tracing::warn!(connection = connection_id, error = %e, "record not removed");
                }
                return false;
            }
            Err(PostError::Failed(e)) => {
                tracing::warn!(connection = connection_id, error = %e, "post failed; frame lost");
            }
        }
    }
    true
}
