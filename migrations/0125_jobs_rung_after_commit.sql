-- A transaction that issued NOTIFY takes one cluster-wide lock when it commits and holds it
-- through its commit's WAL flush, so every job-queuing transaction that notified waited for the
-- others' fsyncs one at a time: the notification trigger made the front's webhook and intent
-- writes commit single file (`log_lock_waits` showed ~3.6 waits over 2 ms per lifecycle for
-- "AccessExclusiveLock on object 0 of class 1262 of database 0", see BENCHMARKS.md).
--
-- A statement whose writer rings the job bell itself after the commit (`queue::bell`: one short
-- notifying transaction per burst of rings) names the queue of the job it writes in the
-- transaction-local setting `malipo.rings_itself`. The trigger then notifies for every other
-- queue the statement wrote to (a job written by a function the statement called, say), and
-- clears the setting, so the statements after it in the transaction are notified as before, as
-- is every other writer (workers' follow-ups, operators, psql).
CREATE OR REPLACE FUNCTION malipo_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    quiet text := coalesce(current_setting('malipo.rings_itself', true), '');
BEGIN
    IF quiet <> '' THEN
        PERFORM set_config('malipo.rings_itself', '', true);
    END IF;
    PERFORM pg_notify('malipo_jobs', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows
           WHERE state = 'pending' AND run_at <= now() AND queue <> quiet) AS q;
    RETURN NULL;
END;
$$;
