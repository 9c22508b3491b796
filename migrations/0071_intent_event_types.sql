-- Every event an intent can record, as `domain::intent_status` names them (a test there reads
-- this file): a misspelt event name is refused by the database, not stored.
ALTER TABLE intent_events ADD CONSTRAINT intent_events_type_check CHECK (type IN (
    'created', 'deposit_initiated', 'deposit_in_doubt', 'deposit_rejected', 'deposit_confirmed',
    'deposit_failed', 'deposit_mismatch', 'deposit_expired', 'release_requested', 'refund_requested',
    'escrow_released', 'settled', 'refunded', 'refund_failed', 'payout_reversed', 'cancelled',
    'payout_failed', 'payout_retried', 'needs_attention'));
