-- Money truth: retries of failed payouts and refunds, discrepancies, a suspense account, and
-- account numbers malipo issues for M-Pesa Paybill matching.

-- A failed payout (or refund) can be followed by another of the same kind: a refund asked again,
-- a payee share sent to a new destination. At most one live payout per intent and kind; a failed
-- one that was followed names its successor, so "every share was delivered" reads the live ones.
ALTER TABLE payouts DROP CONSTRAINT payouts_intent_id_kind_key;
ALTER TABLE payouts ADD COLUMN superseded_by uuid REFERENCES payouts (id);
CREATE UNIQUE INDEX payouts_one_live_per_kind ON payouts (intent_id, kind)
    WHERE status <> 'failed' AND superseded_by IS NULL;
CREATE INDEX payouts_intent ON payouts (intent_id);

-- Money that moved at a provider without a place in the escrow model (a payment for a closed
-- intent, a second payment, an amount that differs, a payout the provider made after malipo
-- recorded it failed) is parked in `suspense` until an operator resolves its discrepancy; the
-- resolution moves it to `settled_outside` (settled by the business outside the escrow model).
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('provider_clearing', 'escrow', 'payee_payable', 'platform_commission',
                    'payouts_in_flight', 'refunds_in_flight', 'suspense', 'settled_outside'));

-- A provider truth that contradicts what malipo recorded, or money malipo cannot place: never
-- dropped, always an open row until an operator resolves it.
CREATE TABLE discrepancies (
    id          uuid PRIMARY KEY,
    kind        text           NOT NULL CHECK (kind IN ('late_payment', 'duplicate_payment', 'amount_mismatch',
                                    'unmatched_payment', 'payout_contradiction', 'lying_callback')),
    -- One row per fact: a second sighting of the same evidence changes nothing.
    dedupe_key  text           NOT NULL UNIQUE,
    intent_id   uuid           REFERENCES intents (id),
    payout_id   uuid           REFERENCES payouts (id),
    provider    text           NOT NULL,
    -- Money that really moved and sits in suspense (NULL when nothing moved, e.g. a lie).
    amount      numeric(20, 2),
    currency    text,
    evidence    jsonb          NOT NULL DEFAULT '{}',
    status      text           NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution  text           CHECK (resolution IN ('refunded_to_payer', 'applied_to_intent', 'written_off', 'acknowledged')),
    note        text,
    resolved_by text,
    resolved_at timestamptz,
    created_at  timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX discrepancies_open ON discrepancies (kind, created_at) WHERE status = 'open';
CREATE INDEX discrepancies_intent ON discrepancies (intent_id) WHERE intent_id IS NOT NULL;

-- Paybill account numbers malipo issues per M-Pesa intent: unique across every client, so a
-- C2B payment is matched to exactly one intent (a client's free-text reference never is).
CREATE SEQUENCE intent_account_numbers START 1000001;
ALTER TABLE intents ADD COLUMN account_number text UNIQUE;

-- A client's own reference names one of its intents (409 on reuse).
CREATE UNIQUE INDEX intents_client_reference ON intents (client_id, reference) WHERE reference IS NOT NULL;

-- The next account number: the sequence's digits and a Luhn check digit, so a mistyped number
-- on a Paybill payment matches no intent instead of someone else's.
CREATE FUNCTION malipo_next_account_number() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    digits text := nextval('intent_account_numbers')::text;
    n      int  := length(digits);
    total  int  := 0;
    d      int;
BEGIN
    FOR i IN 1..n LOOP
        d := substr(digits, n - i + 1, 1)::int;
        IF i % 2 = 1 THEN
            d := d * 2;
            IF d > 9 THEN d := d - 9; END IF;
        END IF;
        total := total + d;
    END LOOP;
    RETURN digits || ((10 - total % 10) % 10)::text;
END;
$$;
