-- A job insert whose writer rings the job bell itself runs no notification function (issue
-- #21). The insert trigger (`malipo_jobs_notify`, migrations 0001 and 0125) was a statement
-- trigger with a transition table: every statement that queued a job copied its rows (the
-- payload with them: a callback's job carries its delivery) into a tuplestore and ran the
-- function, which cleared `malipo.rings_itself` and looked for a due row of another queue —
-- eight times per `bench e2e` lifecycle, finding one in none of them: the writers of the
-- intent, callback, release and payout jobs ring for their queue after the commit.
--
-- Inserts now get what updates got in migration 0126: a row trigger whose WHEN, evaluated by
-- the executor with no function call, passes only a row that is pending, due, and not of the
-- queue the statement's writer rings for (`malipo_job_due`, one NOTIFY per such row;
-- PostgreSQL folds a transaction's identical notifications into one). The setting is cleared
-- after the statement that set it by a statement trigger called only while it is set
-- (`malipo_jobs_forget_quiet`, as for updates), so quiet still lasts one statement.
DROP TRIGGER malipo_jobs_notify_insert ON malipo_jobs;
DROP FUNCTION malipo_jobs_notify();

CREATE TRIGGER malipo_jobs_notify_insert AFTER INSERT ON malipo_jobs FOR EACH ROW
    WHEN (NEW.state = 'pending' AND NEW.run_at <= now()
          AND NEW.queue IS DISTINCT FROM current_setting('malipo.rings_itself', true))
    EXECUTE FUNCTION malipo_job_due();
CREATE TRIGGER malipo_jobs_insert_quiet_for_one_statement AFTER INSERT ON malipo_jobs
    FOR EACH STATEMENT WHEN (current_setting('malipo.rings_itself', true) <> '')
    EXECUTE FUNCTION malipo_jobs_forget_quiet();
