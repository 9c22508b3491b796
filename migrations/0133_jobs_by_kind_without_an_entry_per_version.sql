-- The console and `/ops/jobs` list jobs of one kind newest first, and a rare kind
-- (reconcile_mpesa among a million payouts) must not mean walking the whole table backwards by
-- id (migration 0112). `malipo_jobs_kind (kind, id)` did that, but a job is never updated in
-- place (`state` is in the partial indexes' predicates), so every claim, snooze and completion
-- entered the job again in that btree: ~30 entries per lifecycle, for an index the hot path
-- never reads (issue #21).
--
-- A bloom BRIN index keeps, per range of 32 pages, a small filter of the kinds in it. New row
-- versions land in the table's last range, which is not summarized yet and so costs them
-- nothing; autovacuum summarizes each range once it has filled (`autosummarize`), in one pass.
-- A listing of a rare kind reads only the ranges that may hold it, and the unsummarized tail,
-- which a newest-first listing reads first anyway.
DROP INDEX malipo_jobs_kind;
CREATE INDEX malipo_jobs_kind_ranges ON malipo_jobs
    USING brin (kind text_bloom_ops (n_distinct_per_range = 32, false_positive_rate = 0.01))
    WITH (pages_per_range = 32, autosummarize = on);
