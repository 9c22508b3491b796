-- Outgoing notifications (issue #17): events written in the same transaction as the change they
-- report, client webhook endpoints with sealed secrets, one delivery per (event, endpoint), and
-- every attempt logged.

-- An event's id is also its `sequence` (it rises with each change of the same object, since
-- the change and its event are made under that object's row lock) and its `webhook-id`
-- (`evt_<id>`), the same on every retry and redelivery to every endpoint.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    client_id   uuid        NOT NULL,
    type        text        NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    intent_id   uuid,
    object_id   uuid        NOT NULL,
    data        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_client ON events (client_id, id);
CREATE INDEX events_client_type ON events (client_id, type, id);
CREATE INDEX events_intent ON events (intent_id, id) WHERE intent_id IS NOT NULL;

CREATE TABLE webhook_endpoints (
    id                       uuid PRIMARY KEY,
    client_id                uuid        NOT NULL,
    url                      text        NOT NULL,
    -- Empty means every type.
    event_types              text[]      NOT NULL DEFAULT '{}',
    description              text,
    enabled                  boolean     NOT NULL DEFAULT true,
    disabled_reason          text,
    -- ChaCha20-Poly1305 under MALIPO_SECRETS_KEY: nonce ‖ ciphertext ‖ tag.
    secret_sealed            bytea       NOT NULL,
    -- The secret before the last rotation, still signed with until the grace ends.
    previous_secret_sealed   bytea,
    previous_secret_until    timestamptz,
    -- Since when every attempt has failed (NULL after any success).
    failing_since            timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    deleted_at               timestamptz
);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id        bigint      NOT NULL REFERENCES events (id),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts in the current round; a manual retry or recovery starts a new round (0, 1, …),
    -- and a job from an older round stops without sending.
    attempts        integer     NOT NULL DEFAULT 0,
    round           integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (created_at) WHERE status = 'failed';

CREATE TABLE webhook_attempts (
    id              bigserial PRIMARY KEY,
    delivery_id     uuid        NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at    timestamptz NOT NULL,
    duration_ms     integer     NOT NULL,
    response_status integer,
    -- The first 4 KB of the answer.
    response_body   text,
    error           text
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Records one event and a pending delivery for each enabled endpoint of its client that wants
-- its type; returns the deliveries' ids, for the caller to enqueue in the same transaction.
CREATE FUNCTION malipo_record_event(p_client uuid, p_type text, p_intent uuid, p_object uuid, p_data jsonb)
RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    v_event bigint;
    v_deliveries uuid[];
BEGIN
    INSERT INTO events (client_id, type, intent_id, object_id, data)
    VALUES (p_client, p_type, p_intent, p_object, p_data)
    RETURNING id INTO v_event;
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

-- GET /v1/intents pages a client's intents by id (UUIDv7: creation order) without offsets.
CREATE INDEX intents_client_id_keyset ON intents (client_id, id);
