-- Recording a client notification for a client that subscribes no endpoint is one statement
-- (issue #21). `malipo_record_event` wrote the event and then ran the deliveries' INSERT …
-- SELECT over the client's endpoints, which for most clients finds none: nine such statements
-- per `bench e2e` lifecycle, each paying executor start-up for an insert into
-- `webhook_deliveries` (five indexes, six triggers) that wrote nothing. The event's own insert
-- now also says whether the client has an enabled endpoint (the partial index
-- `webhook_endpoints_client`), and the deliveries' statement runs only when it has.
--
-- Both statements read the endpoints under their own snapshot, as the two statements before
-- did: an endpoint created while the event is written may or may not receive it, as before.
CREATE OR REPLACE FUNCTION malipo_record_event(p_client uuid, p_type text, p_intent uuid, p_object uuid, p_data jsonb)
RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    v_event bigint;
    v_subscribed boolean;
    v_deliveries uuid[];
BEGIN
    INSERT INTO events (client_id, type, intent_id, object_id, data)
    VALUES (p_client, p_type, p_intent, p_object, p_data)
    RETURNING id, EXISTS (SELECT 1 FROM webhook_endpoints e
                           WHERE e.client_id = p_client AND e.enabled AND e.deleted_at IS NULL)
         INTO v_event, v_subscribed;
    IF NOT v_subscribed THEN
        RETURN '{}';
    END IF;
    WITH made AS (
        INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT v_event, e.id
          FROM webhook_endpoints e
         WHERE e.client_id = p_client AND e.enabled AND e.deleted_at IS NULL
           AND (cardinality(e.event_types) = 0 OR p_type = ANY (e.event_types))
        RETURNING id)
    SELECT coalesce(array_agg(id), '{}') INTO v_deliveries FROM made;
    RETURN v_deliveries;
END $$;
