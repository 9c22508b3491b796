-- The console and `/ops/jobs` list jobs of one kind newest first; without this a rare kind
-- (reconcile_mpesa among a million payouts) meant walking the whole table backwards by id.
-- One more btree entry per enqueued job: kind and id never change, so claims and completions
-- do not touch it.
CREATE INDEX malipo_jobs_kind ON malipo_jobs (kind, id);
