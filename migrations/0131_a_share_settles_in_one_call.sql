-- A payee or commission share that the provider says it delivered settles in one call: the
-- payout's move with its posting, the intent's `settled` move when this was its last share, and
-- the callback's own outcome with its job's completion (issue #21: one function call for payout
-- settlement). Before, that answer took six round trips: BEGIN, the payout and its intent
-- locked and read, the payout move, the intent move, the callback's finish, COMMIT.
--
-- The three statements it is made of are the ones malipo already ran from Rust
-- (`db::transitions::make_move`, `db::payouts::set_status`, `db::inbox::finish_completing`). They
-- move here, unchanged, as functions that Rust calls too, so each is written once.

-- An intent's guarded move, its history row, its client notification (with the deliveries' jobs)
-- and, when the move happened, its posting. No row when the guard held the move back.
CREATE FUNCTION malipo_move_intent(
    p_id uuid, p_from text[], p_to text, p_event text, p_detail jsonb, p_event_type text,
    p_every_share boolean, p_share_kinds text[], p_delivered text,
    post_key text, post_kind text, post_intent uuid, post_memo text, post_codes text[],
    post_kinds text[], post_currencies text[], post_intents uuid[], post_amounts numeric[],
    job_queue text, job_kind text, job_max_attempts integer)
RETURNS TABLE (moved_from text, posted_inserted bigint, posted_written bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- The event rows and the posting are written from the UPDATE's result, so only a move that
    -- happened is recorded, and a rolled-back one leaves no event.
    RETURN QUERY
    WITH current AS (SELECT i.status FROM intents i WHERE i.id = p_id FOR UPDATE),
         moved AS (
           UPDATE intents AS i SET status = p_to, updated_at = now()
             FROM current
            WHERE i.id = p_id AND current.status = ANY(p_from)
              AND (NOT p_every_share OR NOT EXISTS (
                    SELECT 1 FROM payouts p
                     WHERE p.intent_id = p_id AND p.kind = ANY(p_share_kinds)
                       AND p.status <> p_delivered AND p.superseded_by IS NULL))
           RETURNING current.status AS previous, i.client_id, i.amount, i.currency,
                     i.reference, i.metadata, i.provider),
         recorded AS (
           INSERT INTO intent_events (intent_id, type, from_status, to_status, detail)
           SELECT p_id, p_event, m.previous, p_to, p_detail FROM moved m),
         notified AS (
           SELECT malipo_record_event_queued(m.client_id, p_event_type, p_id, p_id, jsonb_build_object(
                    'object', 'intent', 'id', p_id, 'status', p_to, 'previous_status', m.previous,
                    'amount', m.amount::text, 'currency', m.currency, 'provider', m.provider,
                    'reference', m.reference, 'metadata', m.metadata),
                    job_queue, job_kind, job_max_attempts) AS deliveries
             FROM moved m),
         -- Called once per moved row (none when the guard held it back).
         posted AS (
           SELECT malipo_post_ledger(post_key, post_kind, post_intent, post_memo, post_codes,
                                     post_kinds, post_currencies, post_intents, post_amounts) AS answer
             FROM moved WHERE post_key IS NOT NULL)
    SELECT moved.previous,
           (SELECT (answer).inserted FROM posted),
           (SELECT (answer).written FROM posted)
      FROM moved, notified;
END $$;

-- A payout's guarded move, its client notification and, when the move happened, its posting;
-- a conclusive move also ends the payout job's waiting status check (`check_key`), which could
-- only find the payout settled. No row when the guard held the move back.
CREATE FUNCTION malipo_move_payout(
    p_id uuid, p_from text[], p_to text, p_provider_ref text, p_reason text, p_event_type text,
    p_in_flight text,
    post_key text, post_kind text, post_intent uuid, post_memo text, post_codes text[],
    post_kinds text[], post_currencies text[], post_intents uuid[], post_amounts numeric[],
    job_queue text, job_kind text, job_max_attempts integer,
    check_queue text, check_key text, check_note text)
RETURNS TABLE (posted_inserted bigint, posted_written bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH current AS (SELECT p.status FROM payouts p WHERE p.id = p_id FOR UPDATE),
         moved AS (
           UPDATE payouts AS p SET status = p_to, provider_ref = coalesce(p_provider_ref, p.provider_ref),
                  failure_reason = coalesce(p_reason, p.failure_reason),
                  initiated_at = CASE WHEN p_to = p_in_flight THEN coalesce(p.initiated_at, now())
                                      ELSE p.initiated_at END,
                  updated_at = now()
             FROM current
            WHERE p.id = p_id AND current.status = ANY(p_from)
           RETURNING current.status AS previous, p.intent_id, p.kind, p.amount, p.currency,
                     p.reference, p.failure_reason, p.client_id, p.client_reference, p.metadata),
         -- A withdrawal has no intent: its client, reference and metadata are its own.
         notified AS (
           SELECT malipo_record_event_queued(coalesce(i.client_id, m.client_id), p_event_type, m.intent_id, p_id,
                    jsonb_build_object(
                    'object', 'payout', 'id', p_id, 'intent_id', m.intent_id, 'kind', m.kind,
                    'status', p_to, 'previous_status', m.previous, 'amount', m.amount::text,
                    'currency', m.currency, 'payout_reference', m.reference,
                    'failure_reason', m.failure_reason, 'reference', coalesce(i.reference, m.client_reference),
                    'metadata', coalesce(i.metadata, m.metadata)),
                    job_queue, job_kind, job_max_attempts) AS deliveries
             FROM moved m LEFT JOIN intents i ON i.id = m.intent_id),
         -- Called once per moved row (none when the guard held it back).
         posted AS (
           SELECT malipo_post_ledger(post_key, post_kind, post_intent, post_memo, post_codes,
                                     post_kinds, post_currencies, post_intents, post_amounts) AS answer
             FROM moved WHERE post_key IS NOT NULL),
         ended AS (
           UPDATE malipo_jobs SET state = 'done', finished_at = now(), updated_at = now(),
                  last_error = check_note
            -- By its key's unique index and never the claim index, as (and for the reason)
            -- `queue::finish_waiting` says.
            WHERE id = (SELECT j.id FROM malipo_jobs j WHERE j.queue = check_queue AND j.dedupe_key = check_key)
              AND state IS NOT DISTINCT FROM 'pending' AND EXISTS (SELECT 1 FROM moved))
    -- `notified` is joined so that it runs for the moved row.
    SELECT (SELECT (answer).inserted FROM posted), (SELECT (answer).written FROM posted)
      FROM notified n;
END $$;

-- A callback's outcome and its job's completion: the row is finished only when the job is
-- marked done (fenced by its lease token), so a run whose lease was taken over changes nothing.
CREATE FUNCTION malipo_finish_callback(p_id uuid, p_status text, p_reason text, p_received text,
                                       p_job bigint, p_token bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    completed boolean;
BEGIN
    WITH done AS (SELECT malipo_complete_done(ARRAY[p_job], ARRAY[p_token]) AS job),
         finished AS (
           UPDATE webhook_inbox SET status = p_status, reason = p_reason, processed_at = now()
            WHERE id = p_id AND status = p_received AND EXISTS (SELECT 1 FROM done))
    SELECT EXISTS (SELECT 1 FROM done) INTO completed;
    RETURN completed;
END $$;

-- A delivered share, settled. Locks the payout and then its intent (the order every payout
-- answer takes, `payouts::lock`), so a concurrent answer for the intent's other share cannot
-- see this one still in flight (write skew) and leave the intent unsettled. `moved` is true
-- when all of it was written, false when the payout was no longer in flight (nothing written:
-- the caller goes the locked way). A run that lost its lease raises SQLSTATE `ML001`, which
-- rolls everything back with it.
CREATE FUNCTION malipo_settle_share(
    p_payout uuid, p_provider_ref text, p_payout_event_type text, p_in_flight text,
    p_delivered text,
    post_key text, post_kind text, post_intent uuid, post_memo text, post_codes text[],
    post_kinds text[], post_currencies text[], post_intents uuid[], post_amounts numeric[],
    job_queue text, job_kind text, job_max_attempts integer,
    check_queue text, check_key text, check_note text,
    p_intent uuid, p_intent_from text[], p_intent_to text, p_intent_event text,
    p_intent_detail jsonb, p_intent_event_type text, p_share_kinds text[],
    inbox_id uuid, inbox_status text, inbox_received text, p_job bigint, p_token bigint,
    OUT moved boolean, OUT inserted bigint, OUT written bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM payouts WHERE id = p_payout FOR UPDATE;
    PERFORM 1 FROM intents WHERE id = p_intent FOR UPDATE;
    SELECT m.posted_inserted, m.posted_written INTO inserted, written
      FROM malipo_move_payout(p_payout, ARRAY[p_in_flight], p_delivered, p_provider_ref, NULL,
                              p_payout_event_type, p_in_flight,
                              post_key, post_kind, post_intent, post_memo, post_codes, post_kinds,
                              post_currencies, post_intents, post_amounts,
                              job_queue, job_kind, job_max_attempts,
                              check_queue, check_key, check_note) AS m;
    moved := FOUND;
    IF NOT moved THEN
        RETURN;
    END IF;
    -- Settled once every live share is delivered (the move checks, seeing this one's move).
    PERFORM malipo_move_intent(p_intent, p_intent_from, p_intent_to, p_intent_event,
                               p_intent_detail, p_intent_event_type, true, p_share_kinds,
                               p_delivered, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                               job_queue, job_kind, job_max_attempts);
    IF NOT malipo_finish_callback(inbox_id, inbox_status, NULL, inbox_received, p_job, p_token) THEN
        RAISE EXCEPTION 'job % no longer holds its lease: the share is left to its successor', p_job
            USING ERRCODE = 'ML001';
    END IF;
END $$;
