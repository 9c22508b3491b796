-- Work every job and ledger write paid for, whether or not it had anything to do (issue #21,
-- measured with `track_functions = 'pl'` during `bench e2e`: see BENCHMARKS.md).
--
-- (A ledger entry's account check and client-balance upkeep, two row triggers, were tried as
-- one statement trigger over the posting's entries: its transition table cost what the calls
-- it saved did, so they stay row triggers.)
--
-- 1. The job notification trigger on UPDATE was a statement trigger with a transition table:
--    every claim, completion and snooze (some eleven statements per lifecycle) copied its rows
--    into a tuplestore and ran the plpgsql function, only for it to find no row that became
--    due. It is now a row trigger whose WHEN — evaluated by the executor, no function call —
--    passes only a row that becomes pending and due (a retry, a lease given back, an operator's
--    retry, a run moved earlier) and is not of the queue the statement's writer rings for
--    itself (`queue::bell`, migration 0125). PostgreSQL folds a transaction's identical
--    notifications into one, so an update that makes many rows due still sends one per queue;
--    it calls the function once per such row, which only an operator's bulk retry does.
--
--    Inserts keep the statement trigger (`malipo_jobs_notify`, migration 0125): a batch of new
--    jobs is one call, not one per row, and it is what clears `malipo.rings_itself` after the
--    statement that set it. (Migration 0123's note that it fires for an insert of no rows
--    still holds.) An UPDATE statement that set the setting would be cleared by the statement
--    trigger below, called only while the setting is set, so quiet lasts one statement
--    whichever kind it is.
DROP TRIGGER malipo_jobs_notify_update ON malipo_jobs;

CREATE FUNCTION malipo_job_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('malipo_jobs', NEW.queue);
    RETURN NULL;
END;
$$;

CREATE FUNCTION malipo_jobs_forget_quiet() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('malipo.rings_itself', '', true);
    RETURN NULL;
END;
$$;

CREATE TRIGGER malipo_jobs_notify_update AFTER UPDATE ON malipo_jobs FOR EACH ROW
    WHEN (NEW.state = 'pending' AND NEW.run_at <= now()
          AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.run_at IS DISTINCT FROM NEW.run_at)
          AND NEW.queue IS DISTINCT FROM current_setting('malipo.rings_itself', true))
    EXECUTE FUNCTION malipo_job_due();
CREATE TRIGGER malipo_jobs_update_quiet_for_one_statement AFTER UPDATE ON malipo_jobs
    FOR EACH STATEMENT WHEN (current_setting('malipo.rings_itself', true) <> '')
    EXECUTE FUNCTION malipo_jobs_forget_quiet();

-- 2. `ledger_entries_account (account_id)` is the prefix of `ledger_entries_account_order
--    (account_id, id)`, which serves every query the shorter one did; every entry paid for both,
--    on the hot accounts' last index page.
DROP INDEX ledger_entries_account;
