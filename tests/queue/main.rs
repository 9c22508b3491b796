//! Queue behaviour against a real PostgreSQL: transactional enqueue, dedupe, leases and fencing,
//! backoff, dead letters, snooze, pause, and a worker process killed mid-job.

mod bell;
mod crash;
mod lifecycle;
mod outcomes;
mod support;
