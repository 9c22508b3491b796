-- A client notification recorded by a state change's own statement, with the `deliver_event`
-- job (round 0) of each of its deliveries queued by that same statement. The change, its event
-- and the jobs that deliver it commit together in one round trip, so a change that is one
-- statement (a payout's move with its ledger posting) needs no transaction of its own.
-- The job's queue, kind and attempts are the caller's (`malipo_jobs::DeliverEvent`); its
-- payload and dedupe key are spelt as that struct serializes them, which
-- `flows::notify::deliveries_of_a_lifecycle_are_queued_as_enqueue_would_queue_them` checks.
CREATE FUNCTION malipo_record_event_queued(p_client uuid, p_type text, p_intent uuid, p_object uuid,
                                           p_data jsonb, job_queue text, job_kind text,
                                           job_max_attempts integer)
RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    v_deliveries uuid[];
BEGIN
    v_deliveries := malipo_record_event(p_client, p_type, p_intent, p_object, p_data);
    -- Most clients subscribe no endpoint: no insert then, so the queue's NOTIFY trigger (a
    -- statement trigger, which fires for an insert of no rows too) is not run for nothing.
    IF cardinality(v_deliveries) > 0 THEN
        INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key)
        SELECT job_queue, job_kind, jsonb_build_object('delivery_id', d, 'round', 0),
               job_max_attempts, job_kind || ':' || d || ':0'
          FROM unnest(v_deliveries) AS d
        ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING;
    END IF;
    RETURN v_deliveries;
END $$;
