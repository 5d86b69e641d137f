//! The executor's loop: takes messages while it has free slots, sweeps (`sweep`), and shuts
//! down gracefully. All the work of one run is in [`Executor::handle`].

use std::sync::Arc;
use std::time::Duration;

use crewship_core::queue::Delivery;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Executor;

impl Executor {
    async fn give_back(&self, delivery: &Delivery) {
        if let Err(e) = self
            .ports
            .queue
            .extend(&delivery.receipt, Duration::ZERO)
            .await
        {
            tracing::warn!(error = %e, run_id = %delivery.run_id, "returning a message failed");
        }
    }

    /// Loops until `stop` fires: at most `max_concurrent_runs` runs at once, a sweep every
    /// lease. On stop, takes no more work, gives running agents the shutdown
    /// grace period, then stops them (their runs end FAILED, never left RUNNING).
    pub async fn run_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.max_concurrent_runs.max(1)));
        let kill = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut backoff = Duration::from_millis(100);
        let sweep_every = self.config.lease;
        let mut next_sweep = tokio::time::Instant::now();
        loop {
            while tasks.try_join_next().is_some() {}
            if tokio::time::Instant::now() >= next_sweep {
                if let Err(e) = self.sweep(sweep_every).await {
                    tracing::warn!(error = %e, "sweep failed");
                }
                next_sweep = tokio::time::Instant::now() + sweep_every;
            }
            // `biased`: once stop fired, no free slot or ready message may win the race.
            let permit = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                p = slots.clone().acquire_owned() => p.expect("never closed"),
                // All slots busy with long runs: lost runs are still swept on time.
                () = tokio::time::sleep_until(next_sweep) => continue,
            };
            let received = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                r = self.ports.queue.receive(1, self.config.poll_wait) => r,
            };
            match received {
                Ok(deliveries) => {
                    backoff = Duration::from_millis(100);
                    if stop.is_cancelled() {
                        // Received as stop fired: hand it straight back to other executors.
                        for delivery in &deliveries {
                            self.give_back(delivery).await;
                        }
                        break;
                    }
                    if let Some(delivery) = deliveries.into_iter().next() {
                        let this = self.clone();
                        let kill = kill.clone();
                        tasks.spawn(async move {
                            let _permit = permit;
                            if let Err(e) = this.handle(delivery, kill).await {
                                tracing::error!(error = %e, "handling a run failed; it will be redelivered");
                            }
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "queue receive failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::info!(
            running = tasks.len(),
            "executor stopping; letting running agents finish"
        );
        let grace = self.config.shutdown_grace;
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tracing::warn!(
                running = tasks.len(),
                "shutdown grace period over; stopping agents"
            );
            kill.cancel();
            while tasks.join_next().await.is_some() {}
        }
    }
}
