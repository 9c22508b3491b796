-- Escrow: the double-entry ledger, payouts, and the verified webhook inbox.

ALTER TABLE intents
    ADD COLUMN deposit_expires_at timestamptz,
    ADD COLUMN flagged_reason     text,
    ADD COLUMN release_bolt11     text,
    ADD COLUMN refund_bolt11      text;

-- Ledger accounts. Balances are never stored: they are the sum of entries.
CREATE TABLE ledger_accounts (
    id         bigserial PRIMARY KEY,
    code       text        NOT NULL UNIQUE,
    kind       text        NOT NULL CHECK (kind IN ('provider_clearing', 'escrow', 'payee_payable',
                                   'platform_commission', 'payouts_in_flight', 'refunds_in_flight')),
    currency   text        NOT NULL,
    intent_id  uuid REFERENCES intents (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, currency)
);

-- One business event's postings. The idempotency key makes a second posting of the same event
-- a no-op (deposit:<intent>, release:<intent>, payout:<id>:sent, …).
CREATE TABLE ledger_transactions (
    id              bigserial PRIMARY KEY,
    idempotency_key text        NOT NULL UNIQUE,
    kind            text        NOT NULL,
    intent_id       uuid REFERENCES intents (id),
    memo            text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Debits positive, credits negative. An entry's currency must be its account's (composite FK).
CREATE TABLE ledger_entries (
    id             bigserial PRIMARY KEY,
    transaction_id bigint         NOT NULL REFERENCES ledger_transactions (id),
    account_id     bigint         NOT NULL,
    currency       text           NOT NULL,
    amount         numeric(20, 2) NOT NULL CHECK (amount <> 0),
    created_at     timestamptz    NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, currency) REFERENCES ledger_accounts (id, currency)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);

-- Entries and transactions are immutable: corrections are new transactions.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Every transaction balances per currency, checked at commit (deferred), so a transaction
-- can insert its entries one by one but can never commit unbalanced.
CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
BEGIN
    SELECT currency, sum(amount) AS total INTO unbalanced
      FROM ledger_entries WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: %',
            NEW.transaction_id, unbalanced.currency, unbalanced.total;
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();

-- Money leaving: payee share, platform commission, or a refund to the buyer.
CREATE TABLE payouts (
    id              uuid PRIMARY KEY,
    intent_id       uuid           NOT NULL REFERENCES intents (id),
    kind            text           NOT NULL CHECK (kind IN ('payee', 'commission', 'refund')),
    amount          numeric(20, 2) NOT NULL CHECK (amount > 0),
    currency        text           NOT NULL,
    provider        text           NOT NULL CHECK (provider IN ('paystack', 'mpesa', 'lightning')),
    destination     jsonb          NOT NULL,
    -- The provider-side idempotency key, derived from the id; unique across all payouts.
    reference       text           NOT NULL UNIQUE,
    -- pending: not sent · in_flight: initiation recorded (never initiated again) · then conclusive.
    status          text           NOT NULL CHECK (status IN ('pending', 'in_flight', 'succeeded', 'failed', 'reversed')),
    initiated_at    timestamptz,
    provider_ref    text,
    failure_reason  text,
    created_at      timestamptz    NOT NULL DEFAULT now(),
    updated_at      timestamptz    NOT NULL DEFAULT now(),
    UNIQUE (intent_id, kind)
);

-- Verified provider webhooks, raw, unique per provider event key.
CREATE TABLE webhook_inbox (
    id           uuid PRIMARY KEY,
    provider     text        NOT NULL,
    endpoint     text        NOT NULL,
    event_key    text        NOT NULL,
    body         bytea       NOT NULL,
    status       text        NOT NULL CHECK (status IN ('received', 'processed', 'rejected', 'ignored')),
    reason       text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    UNIQUE (provider, event_key)
);

-- Providers' events we could not match to anything we issued (C2B payments we never heard of).
CREATE TABLE unmatched_payments (
    id          bigserial PRIMARY KEY,
    provider    text           NOT NULL,
    receipt     text           NOT NULL,
    amount      numeric(20, 2),
    currency    text,
    account_ref text,
    detail      jsonb          NOT NULL DEFAULT '{}',
    created_at  timestamptz    NOT NULL DEFAULT now(),
    UNIQUE (provider, receipt)
);
