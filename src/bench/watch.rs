//! Intent states for a benchmark driver, seen with one query for every lifecycle in flight:
//! polling each intent over HTTP would make the driver itself the benchmark's main load.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

/// How often the states are read.
const EVERY: Duration = Duration::from_millis(20);

type Waiters = HashMap<Uuid, Vec<(&'static str, oneshot::Sender<String>)>>;

/// Wakes lifecycles when their intent reaches a state.
#[derive(Clone)]
pub struct Watcher {
    waiters: Arc<Mutex<Waiters>>,
    stop: Arc<tokio::sync::Notify>,
}

impl Watcher {
    /// Starts watching through `pool`.
    pub fn start(pool: PgPool) -> Self {
        let watcher = Self {
            waiters: Arc::default(),
            stop: Arc::default(),
        };
        let task = watcher.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = task.stop.notified() => return,
                    () = tokio::time::sleep(EVERY) => task.poll(&pool).await,
                }
            }
        });
        watcher
    }

    /// Stops the watching task.
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    /// Waits until intent `id` is `status`, or has ended in another final state (returned as
    /// the error), or `limit` passes.
    pub async fn until(
        &self,
        id: Uuid,
        status: &'static str,
        limit: Duration,
    ) -> Result<(), String> {
        let (sender, receiver) = oneshot::channel();
        self.lock().entry(id).or_default().push((status, sender));
        match tokio::time::timeout(limit, receiver).await {
            Ok(Ok(seen)) if seen == status => Ok(()),
            Ok(Ok(seen)) => Err(format!("intent {id} ended {seen}, not {status}")),
            Ok(Err(_)) => Err("the watcher stopped".to_owned()),
            Err(_) => {
                // Stop reading an intent nobody waits for any more.
                self.lock().remove(&id);
                Err(format!("intent {id} did not reach {status} in {limit:?}"))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn poll(&self, pool: &PgPool) {
        let ids: Vec<Uuid> = self.lock().keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        let Ok(states) = sqlx::query_as::<_, (Uuid, String)>(POLL)
            .bind(&ids)
            .fetch_all(pool)
            .await
        else {
            return;
        };
        let mut waiters = self.lock();
        for (id, status) in states {
            let Some(list) = waiters.remove(&id) else {
                continue;
            };
            let ended = matches!(
                status.as_str(),
                "settled" | "refunded" | "failed" | "expired" | "cancelled"
            );
            let (done, waiting): (Vec<_>, Vec<_>) = list
                .into_iter()
                .partition(|(wanted, _)| *wanted == status || ended);
            for (_, sender) in done {
                let _ = sender.send(status.clone());
            }
            if !waiting.is_empty() {
                waiters.insert(id, waiting);
            }
        }
    }
}

/// The driver's one polling statement, marked so the statement counts leave it out.
const POLL: &str = "SELECT id, status FROM intents WHERE id = ANY($1) /* bench driver */";

#[cfg(test)]
mod tests {
    #[test]
    fn the_polling_statement_carries_the_driver_mark() {
        assert!(super::POLL.contains(super::super::statements::DRIVER_MARK));
    }
}
