//! In-memory queue with SQS semantics: visibility timeout, redelivery, receive counts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Delivery, MAX_SEND_DELAY, QueueError, RunQueue};
use crate::ids::RunId;

pub struct MemoryQueue {
    state: Mutex<State>,
    notify: Notify,
    visibility: Duration,
}

#[derive(Default)]
struct State {
    ready: VecDeque<(RunId, u32)>,
    in_flight: HashMap<String, InFlight>,
    next_receipt: u64,
}

struct InFlight {
    run_id: RunId,
    receive_count: u32,
    visible_at: Instant,
}

impl MemoryQueue {
    /// `visibility` is how long a received message stays hidden unless extended.
    pub fn new(visibility: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            visibility,
        }
    }

    /// Messages not yet deleted: ready plus in flight.
    pub fn len(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.ready.len() + s.in_flight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves messages whose visibility timeout passed back to the front; returns the earliest
    /// instant at which another one will.
    fn requeue_expired(state: &mut State, now: Instant) -> Option<Instant> {
        let expired: Vec<String> = state
            .in_flight
            .iter()
            .filter(|(_, m)| m.visible_at <= now)
            .map(|(r, _)| r.clone())
            .collect();
        for receipt in expired {
            let m = state.in_flight.remove(&receipt).expect("listed above");
            state.ready.push_front((m.run_id, m.receive_count));
        }
        state.in_flight.values().map(|m| m.visible_at).min()
    }
}

#[async_trait]
impl RunQueue for MemoryQueue {
    async fn send(&self, run: &RunId) -> Result<(), QueueError> {
        self.state.lock().unwrap().ready.push_back((run.clone(), 0));
        self.notify.notify_one();
        Ok(())
    }

    async fn send_delayed(&self, run: &RunId, delay: Duration) -> Result<(), QueueError> {
        // A delayed message is an invisible one that was never received: it becomes ready
        // with receive count 0 when its delay has passed.
        let mut state = self.state.lock().unwrap();
        state.next_receipt += 1;
        let receipt = format!("d{}", state.next_receipt);
        state.in_flight.insert(
            receipt,
            InFlight {
                run_id: run.clone(),
                receive_count: 0,
                visible_at: Instant::now() + delay.min(MAX_SEND_DELAY),
            },
        );
        drop(state);
        self.notify.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let next_visible = {
                let now = Instant::now();
                let mut state = self.state.lock().unwrap();
                let next_visible = Self::requeue_expired(&mut state, now);
                let mut out = Vec::new();
                while out.len() < max {
                    let Some((run_id, count)) = state.ready.pop_front() else {
                        break;
                    };
                    state.next_receipt += 1;
                    let receipt = format!("r{}", state.next_receipt);
                    state.in_flight.insert(
                        receipt.clone(),
                        InFlight {
                            run_id: run_id.clone(),
                            receive_count: count + 1,
                            visible_at: now + self.visibility,
                        },
                    );
                    out.push(Delivery {
                        run_id,
                        receipt,
                        receive_count: count + 1,
                    });
                }
                // A drained backlog gives its buffer back (a burst of 100,000 held 3 MiB).
                if state.ready.capacity() > 4096 && state.ready.len() < state.ready.capacity() / 4 {
                    let keep = state.ready.len() * 2;
                    state.ready.shrink_to(keep);
                }
                if !out.is_empty() {
                    if !state.ready.is_empty() {
                        // Pass the wake-up on to another waiting receiver.
                        self.notify.notify_one();
                    }
                    return Ok(out);
                }
                next_visible
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(vec![]);
            }
            let until = next_visible.map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.state
            .lock()
            .unwrap()
            .in_flight
            .remove(receipt)
            .map(|_| ())
            .ok_or(QueueError::UnknownReceipt)
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let mut state = self.state.lock().unwrap();
        let m = state
            .in_flight
            .get_mut(receipt)
            .ok_or(QueueError::UnknownReceipt)?;
        m.visible_at = Instant::now() + visibility;
        drop(state);
        // A shortened timeout may make the message visible sooner than waiters planned for.
        self.notify.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> RunId {
        RunId::generate()
    }

    #[tokio::test(start_paused = true)]
    async fn unacked_messages_come_back_after_the_visibility_timeout() {
        let q = MemoryQueue::new(Duration::from_secs(30));
        let run = id();
        q.send(&run).await.unwrap();
        let first = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            q.receive(10, Duration::from_secs(29))
                .await
                .unwrap()
                .is_empty()
        );
        let again = q.receive(10, Duration::from_secs(2)).await.unwrap();
        assert_eq!((again[0].run_id.clone(), again[0].receive_count), (run, 2));
        q.ack(&again[0].receipt).await.unwrap();
        assert!(q.is_empty());
        assert!(q.ack(&first[0].receipt).await.is_err(), "stale receipt");
    }

    #[tokio::test(start_paused = true)]
    async fn extend_keeps_a_message_hidden() {
        let q = MemoryQueue::new(Duration::from_secs(30));
        q.send(&id()).await.unwrap();
        let d = q.receive(1, Duration::ZERO).await.unwrap().remove(0);
        tokio::time::sleep(Duration::from_secs(20)).await;
        q.extend(&d.receipt, Duration::from_secs(30)).await.unwrap();
        assert!(
            q.receive(1, Duration::from_secs(25))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_message_is_fresh_and_hidden_until_its_delay() {
        let q = MemoryQueue::new(Duration::from_secs(30));
        let run = id();
        q.send_delayed(&run, Duration::from_secs(10)).await.unwrap();
        assert_eq!(q.len(), 1);
        assert!(
            q.receive(1, Duration::from_secs(9))
                .await
                .unwrap()
                .is_empty()
        );
        let d = q
            .receive(1, Duration::from_secs(2))
            .await
            .unwrap()
            .remove(0);
        assert_eq!((d.run_id, d.receive_count), (run, 1));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_send() {
        let q = std::sync::Arc::new(MemoryQueue::new(Duration::from_secs(30)));
        let rx = tokio::spawn({
            let q = q.clone();
            async move { q.receive(1, Duration::from_secs(30)).await.unwrap() }
        });
        tokio::task::yield_now().await;
        q.send(&id()).await.unwrap();
        assert_eq!(rx.await.unwrap().len(), 1);
    }
}
