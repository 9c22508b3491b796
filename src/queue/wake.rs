//! Waking idle workers: LISTEN/NOTIFY when jobs arrive, with an interval poll as the fallback
//! for delayed jobs, retries coming due and notifications lost while disconnected.

use std::{collections::HashMap, sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::watch;
use tracing::{debug, warn};

/// The channel the `malipo_jobs` notification triggers notify on, with the queue name as payload.
pub const CHANNEL: &str = "malipo_jobs";

/// Per-queue wake signals shared by every worker in the process.
#[derive(Clone)]
pub struct Wakers {
    queues: Arc<HashMap<String, watch::Sender<u64>>>,
}

impl Wakers {
    /// Signals for the given queues.
    pub fn new(queues: &[String]) -> Self {
        let map = queues
            .iter()
            .map(|queue| (queue.clone(), watch::channel(0).0))
            .collect();
        Self {
            queues: Arc::new(map),
        }
    }

    /// A receiver that changes whenever `queue` has new work.
    pub fn subscribe(&self, queue: &str) -> watch::Receiver<u64> {
        match self.queues.get(queue) {
            Some(sender) => sender.subscribe(),
            // A queue this process does not listen for: never signalled, polling still works.
            None => watch::channel(0).1,
        }
    }

    /// Signals that `queue` has new work.
    pub fn wake(&self, queue: &str) {
        if let Some(sender) = self.queues.get(queue) {
            sender.send_modify(|generation| *generation = generation.wrapping_add(1));
        }
    }

    /// Signals every queue (after a reconnect, when notifications may have been missed).
    pub fn wake_all(&self) {
        for queue in self.queues.keys() {
            self.wake(queue);
        }
    }

    /// Listens for notifications until the process ends, reconnecting after database outages.
    pub fn spawn_listener(&self, pool: PgPool) -> tokio::task::JoinHandle<()> {
        let wakers = self.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(200);
            loop {
                match listen(&pool, &wakers).await {
                    Ok(()) => pause = Duration::from_millis(200),
                    Err(error) => {
                        warn!(%error, "job notification listener lost its connection; reconnecting");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            }
        })
    }
}

async fn listen(pool: &PgPool, wakers: &Wakers) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Anything enqueued while we were not listening is found by the next claim.
    wakers.wake_all();
    loop {
        let notification = listener.recv().await?;
        debug!(queue = notification.payload(), "job notification");
        wakers.wake(notification.payload());
    }
}
