-- Every operator action (HTTP /ops or the CLI): who, what, on which filter, how many rows.
-- No foreign keys: the record must outlive pruned jobs and revoked keys.

CREATE TABLE malipo_ops_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    -- `key:<api client id>` for an operator key, `cli:<os user>` for the command line.
    actor     text        NOT NULL,
    client_id uuid,
    -- `job.retry`, `job.discard`, `jobs.retry`, `jobs.discard`, `queue.pause`, `queue.resume`, `queue.drain`.
    action    text        NOT NULL,
    job_id    bigint,
    queue     text,
    filter    jsonb       NOT NULL DEFAULT '{}',
    dry_run   boolean     NOT NULL DEFAULT false,
    affected  bigint      NOT NULL,
    -- What the action reported beyond the count (a drain's outcomes, for instance).
    detail    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX malipo_ops_audit_job ON malipo_ops_audit (job_id) WHERE job_id IS NOT NULL;
