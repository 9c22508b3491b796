-- The job queue: one row per job, claimed with FOR UPDATE SKIP LOCKED under a fenced lease.

CREATE TABLE malipo_jobs (
    id            bigserial PRIMARY KEY,
    queue         text        NOT NULL,
    kind          text        NOT NULL,
    payload       jsonb       NOT NULL,
    -- pending → running → done | pending (retry/snooze) | dead; discarded by an operator.
    state         text        NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'dead', 'discarded')),
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer     NOT NULL CHECK (max_attempts > 0),
    -- Fencing token: bumped on every claim, so a worker whose lease was taken over cannot
    -- complete the job (its completion names an old token and matches no row).
    lease_token   bigint      NOT NULL DEFAULT 0,
    locked_by     text,
    locked_until  timestamptz,
    dedupe_key    text,
    last_error    text,
    intent_id     uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

-- A second enqueue of the same logical job is a no-op (ON CONFLICT DO NOTHING), for as long as
-- the first job's row exists (done rows are pruned after the retention period).
CREATE UNIQUE INDEX malipo_jobs_dedupe ON malipo_jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- The claim path: only pending rows, in run_at order per queue.
CREATE INDEX malipo_jobs_claim ON malipo_jobs (queue, run_at) WHERE state = 'pending';
-- Lease rescue scans running rows only.
CREATE INDEX malipo_jobs_leases ON malipo_jobs (locked_until) WHERE state = 'running';
-- Retention and operator views.
CREATE INDEX malipo_jobs_finished ON malipo_jobs (finished_at) WHERE state = 'done';
CREATE INDEX malipo_jobs_state_queue ON malipo_jobs (state, queue, kind) WHERE state IN ('dead', 'discarded');
CREATE INDEX malipo_jobs_intent ON malipo_jobs (intent_id) WHERE intent_id IS NOT NULL;

-- Every failed attempt's error, bounded in size, for operators.
CREATE TABLE malipo_job_attempts (
    job_id    bigint      NOT NULL REFERENCES malipo_jobs (id) ON DELETE CASCADE,
    attempt   integer     NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    outcome   text        NOT NULL,
    error     text        NOT NULL,
    worker    text
);
CREATE INDEX malipo_job_attempts_job ON malipo_job_attempts (job_id, attempt);

-- Per-queue pause flag, honoured by the claim query itself.
CREATE TABLE malipo_queues (
    name        text PRIMARY KEY,
    paused      boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Live workers, for operators and for lease rescue diagnostics.
CREATE TABLE malipo_workers (
    id            text PRIMARY KEY,
    queues        text[]      NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- Wake idle workers when runnable jobs arrive: one NOTIFY per queue per statement, whatever
-- path inserted the rows (API transaction, job follow-ups, operator retries).
CREATE FUNCTION malipo_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('malipo_jobs', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows WHERE state = 'pending' AND run_at <= now()) AS q;
    RETURN NULL;
END;
$$;

CREATE TRIGGER malipo_jobs_notify_insert AFTER INSERT ON malipo_jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION malipo_jobs_notify();
CREATE TRIGGER malipo_jobs_notify_update AFTER UPDATE ON malipo_jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION malipo_jobs_notify();
