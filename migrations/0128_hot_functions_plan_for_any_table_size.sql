-- The hot-path functions (migration 0051) plan once per connection (`force_generic_plan`), and
-- a cached plan is kept until something invalidates it — an ANALYZE of a table it reads, at
-- the earliest autovacuum's next round. A connection that first ran them while `malipo_jobs`
-- or `ledger_accounts` was young (a fresh database, or the first minute after a deploy) kept a
-- plan made for a table of a few pages: a hash join over a sequential scan, cheaper there than
-- ten primary-key probes. The table then grew under that plan. In a fresh `bench e2e` of 3,000
-- lifecycles, `malipo_jobs` was read whole 11,905 times (83 million rows; ~175 pages per job
-- completion), `ledger_accounts` 9,262 times, until the run ended.
--
-- These functions only ever touch rows they name by key (job ids, account codes, a queue's
-- due jobs through its claim index), so a sequential scan is never the plan they want at any
-- size: the planner is told so for their own statements. `enable_seqscan = off` works by
-- pricing a sequential scan at 10^10, and a plan that still has one (the claim's look at the
-- few rows of `malipo_queues`) then costs more than `jit_above_cost`: PostgreSQL would compile
-- it with LLVM on every call (a second per claim, measured). `jit = off` keeps that from
-- happening; these statements are far too small for JIT to pay at any cost estimate.
ALTER FUNCTION malipo_claim(text, bigint, text, float8)
    SET enable_seqscan = off SET jit = off;
ALTER FUNCTION malipo_complete_done(bigint[], bigint[])
    SET enable_seqscan = off SET jit = off;
ALTER FUNCTION malipo_complete_other(bigint[], bigint[], text[], float8[], text[], text[], integer[], text[])
    SET enable_seqscan = off SET jit = off;
ALTER FUNCTION malipo_post_ledger(text, text, uuid, text, text[], text[], text[], uuid[], numeric[])
    SET enable_seqscan = off SET jit = off;
