-- API clients, payment intents with their event history, and idempotency records.

CREATE TABLE api_clients (
    id             uuid PRIMARY KEY,
    name           text        NOT NULL,
    role           text        NOT NULL CHECK (role IN ('client', 'operator')),
    -- SHA-256 of the API key, hex; the key itself is shown once and never stored.
    key_hash       text        NOT NULL UNIQUE,
    key_prefix     text        NOT NULL,
    commission_bps integer     NOT NULL DEFAULT 0 CHECK (commission_bps BETWEEN 0 AND 10000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

CREATE TABLE intents (
    id              uuid PRIMARY KEY,
    client_id       uuid        NOT NULL REFERENCES api_clients (id),
    status          text        NOT NULL CHECK (status IN ('initiating', 'awaiting_payment', 'held', 'releasing',
                                    'released', 'settled', 'refunding', 'refunded', 'failed', 'expired', 'cancelled')),
    amount          numeric(20, 2) NOT NULL CHECK (amount > 0),
    currency        text        NOT NULL CHECK (currency IN ('KES', 'NGN', 'GHS', 'ZAR', 'USD', 'SAT')),
    provider        text        NOT NULL CHECK (provider IN ('paystack', 'mpesa', 'lightning')),
    buyer           jsonb       NOT NULL,
    payee           jsonb       NOT NULL,
    commission_bps  integer     NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    reference       text,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    next_action     jsonb,
    provider_reference text,
    failure_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intents_client_created ON intents (client_id, created_at DESC);
CREATE UNIQUE INDEX intents_provider_reference ON intents (provider, provider_reference) WHERE provider_reference IS NOT NULL;

-- Every status change, written in the same transaction as the guarded UPDATE it records.
CREATE TABLE intent_events (
    id          bigserial PRIMARY KEY,
    intent_id   uuid        NOT NULL REFERENCES intents (id),
    at          timestamptz NOT NULL DEFAULT now(),
    type        text        NOT NULL,
    from_status text,
    to_status   text,
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX intent_events_intent ON intent_events (intent_id, id);

-- Stripe-style idempotency: the first response per (client, key) is stored and replayed.
CREATE TABLE idempotency_keys (
    client_id       uuid        NOT NULL REFERENCES api_clients (id),
    key             text        NOT NULL,
    method          text        NOT NULL,
    path            text        NOT NULL,
    request_hash    text        NOT NULL,
    -- NULL while the first request is in flight.
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
