-- A transaction that issued NOTIFY takes one cluster-wide lock when it commits and holds it
-- through its commit's WAL flush, so every job-queuing transaction that notified waited for the
-- others' fsyncs one at a time: the notification trigger made the front's webhook and intent
-- writes commit single file (`log_lock_waits` showed ~3.6 waits over 2 ms per lifecycle for
-- "AccessExclusiveLock on object 0 of class 1262 of database 0", see BENCHMARKS.md).
--
-- A statement whose writer rings the job bell itself after the commit (`queue::bell`: one
-- `pg_notify` from a transaction that writes no WAL) says so by setting the transaction-local
-- `malipo.rings_itself = on` in the statement. The trigger then stays silent for that statement
-- and clears the setting, so the statements after it in the transaction are notified as before,
-- as is every other writer (workers' follow-ups, operators, psql).
CREATE OR REPLACE FUNCTION malipo_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('malipo.rings_itself', true) = 'on' THEN
        PERFORM set_config('malipo.rings_itself', '', true);
        RETURN NULL;
    END IF;
    PERFORM pg_notify('malipo_jobs', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows WHERE state = 'pending' AND run_at <= now()) AS q;
    RETURN NULL;
END;
$$;
