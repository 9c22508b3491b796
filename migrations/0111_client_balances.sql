-- Money in and out without escrow: collections into a client's balance, payouts (withdrawals)
-- from it. The balance is a ledger account per client and currency; the database itself keeps it
-- from going below zero.

ALTER TABLE ledger_accounts ADD COLUMN client_id uuid REFERENCES api_clients (id);
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('provider_clearing', 'escrow', 'payee_payable', 'platform_commission',
                    'payouts_in_flight', 'refunds_in_flight', 'suspense', 'settled_outside',
                    'client_balance', 'withdrawals_reserved'));

-- What a client may withdraw, per currency: kept equal to its balance account (credit-normal,
-- so `available` = minus the sum of its entries) by the trigger below, in the statement that
-- posts, so an overdraft fails that statement (two concurrent withdrawals serialize on the row;
-- the second sees the first's deduction).
CREATE TABLE client_balances (
    account_id bigint         PRIMARY KEY REFERENCES ledger_accounts (id),
    client_id  uuid           NOT NULL REFERENCES api_clients (id),
    currency   text           NOT NULL,
    available  numeric(20, 2) NOT NULL DEFAULT 0 CONSTRAINT client_balance_not_negative CHECK (available >= 0),
    UNIQUE (client_id, currency)
);

CREATE FUNCTION malipo_track_client_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_balances SET available = available - NEW.amount WHERE account_id = NEW.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ledger_entries_client_balance AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION malipo_track_client_balance();

-- A collection settles into the balance on payment instead of waiting in escrow.
ALTER TABLE intents ADD COLUMN capture text NOT NULL DEFAULT 'escrow' CHECK (capture IN ('escrow', 'immediate'));

-- A withdrawal is a payout of a client's balance: no intent, the client's own reference and
-- metadata (a client's reference names one withdrawal).
ALTER TABLE payouts ALTER COLUMN intent_id DROP NOT NULL;
ALTER TABLE payouts
    ADD COLUMN client_id        uuid REFERENCES api_clients (id),
    ADD COLUMN client_reference text,
    ADD COLUMN metadata         jsonb;
-- A `late_refund` returns a payment that arrived for a closed intent (it waits in suspense
-- under its discrepancy) to the payer, where the provider can.
ALTER TABLE payouts DROP CONSTRAINT payouts_kind_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_kind_check
    CHECK (kind IN ('payee', 'commission', 'refund', 'withdrawal', 'late_refund'));
ALTER TABLE payouts ADD CONSTRAINT payouts_withdrawal_owner
    CHECK ((kind = 'withdrawal') = (intent_id IS NULL) AND (kind <> 'withdrawal' OR client_id IS NOT NULL));
CREATE UNIQUE INDEX payouts_client_reference ON payouts (client_id, client_reference)
    WHERE client_reference IS NOT NULL;
CREATE INDEX payouts_client ON payouts (client_id, created_at) WHERE client_id IS NOT NULL;
CREATE INDEX ledger_entries_account_order ON ledger_entries (account_id, id);

ALTER TABLE intent_events DROP CONSTRAINT intent_events_type_check;
ALTER TABLE intent_events ADD CONSTRAINT intent_events_type_check CHECK (type IN (
    'created', 'deposit_initiated', 'deposit_in_doubt', 'deposit_rejected', 'deposit_confirmed',
    'deposit_failed', 'deposit_mismatch', 'deposit_expired', 'release_requested', 'refund_requested',
    'escrow_released', 'settled', 'refunded', 'refund_failed', 'payout_reversed', 'cancelled',
    'payout_failed', 'payout_retried', 'needs_attention',
    'part_release_requested', 'part_released', 'disputed', 'dispute_withdrawn', 'dispute_resolved',
    'auto_release_set', 'collected'));
