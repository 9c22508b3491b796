-- Marketplace escrow: releases in parts (milestones), disputes, and an automatic release.

-- A held intent can be disputed: no release or refund until an operator resolves it or the
-- client withdraws the dispute.
ALTER TABLE intents DROP CONSTRAINT intents_status_check;
ALTER TABLE intents ADD CONSTRAINT intents_status_check CHECK (status IN ('initiating', 'awaiting_payment',
    'held', 'disputed', 'releasing', 'released', 'settled', 'refunding', 'refunded', 'failed', 'expired',
    'cancelled'));

-- `released_amount` is what releases have promised the payee side so far (the sum of
-- `intent_releases`): the database itself refuses a release beyond what was paid in, and a refund
-- takes only what is left.
ALTER TABLE intents
    ADD COLUMN released_amount numeric(20, 2) NOT NULL DEFAULT 0,
    ADD COLUMN auto_release_at timestamptz,
    ADD COLUMN dispute_reason  text,
    ADD CONSTRAINT intents_released_within_amount CHECK (released_amount >= 0 AND released_amount <= amount);
-- Intents released before parts existed were released whole.
UPDATE intents SET released_amount = amount WHERE status IN ('releasing', 'released', 'settled');

-- Named parts of an intent, fixed at creation, summing to its amount; each released once.
CREATE TABLE intent_milestones (
    intent_id  uuid           NOT NULL REFERENCES intents (id),
    milestone  text           NOT NULL CHECK (milestone ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    position   integer        NOT NULL,
    amount     numeric(20, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (intent_id, milestone)
);

-- Every release of (part of) an intent, in order. The request writes the row; the
-- `release_escrow` job posts it (escrow → payable + commission), creates its payouts and stamps
-- `released_at`. The shares are stored when posted: for each part they are the difference of the
-- cumulative split, so the parts' shares sum exactly to the whole release's.
CREATE TABLE intent_releases (
    intent_id         uuid           NOT NULL REFERENCES intents (id),
    seq               integer        NOT NULL CHECK (seq >= 1),
    amount            numeric(20, 2) NOT NULL CHECK (amount > 0),
    milestone         text,
    -- The Lightning invoice that pays this part's payee share, when the payee is on Lightning.
    bolt11            text,
    source            text           NOT NULL CHECK (source IN ('client', 'auto_release', 'dispute_resolution')),
    payee_amount      numeric(20, 2) CHECK (payee_amount >= 0),
    commission_amount numeric(20, 2) CHECK (commission_amount >= 0),
    requested_at      timestamptz    NOT NULL DEFAULT now(),
    released_at       timestamptz,
    PRIMARY KEY (intent_id, seq),
    FOREIGN KEY (intent_id, milestone) REFERENCES intent_milestones (intent_id, milestone),
    CHECK ((payee_amount IS NULL) = (commission_amount IS NULL) AND (released_at IS NOT NULL OR payee_amount IS NULL)),
    CHECK (payee_amount IS NULL OR payee_amount + commission_amount = amount)
);
-- A milestone is released once.
CREATE UNIQUE INDEX intent_releases_one_per_milestone ON intent_releases (intent_id, milestone)
    WHERE milestone IS NOT NULL;
-- The pre-existing whole releases, already posted: marked released so no job posts them again
-- (their shares are in their payouts, not repeated here).
INSERT INTO intent_releases (intent_id, seq, amount, source, released_at)
SELECT i.id, 1, i.amount, 'client', now()
  FROM intents i
 WHERE i.status IN ('released', 'settled')
    OR (i.status = 'releasing' AND EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = 'release:' || i.id));
-- A `releasing` intent whose job has not posted yet gets its row, posted by that job.
INSERT INTO intent_releases (intent_id, seq, amount, bolt11, source)
SELECT i.id, 1, i.amount, i.release_bolt11, 'client'
  FROM intents i
 WHERE i.status = 'releasing'
   AND NOT EXISTS (SELECT 1 FROM intent_releases r WHERE r.intent_id = i.id);

-- Payouts belong to one release: each part has its own payee and commission payout.
ALTER TABLE payouts ADD COLUMN release_seq integer NOT NULL DEFAULT 1;
DROP INDEX payouts_one_live_per_kind;
CREATE UNIQUE INDEX payouts_one_live_per_kind ON payouts (intent_id, kind, release_seq)
    WHERE status <> 'failed' AND superseded_by IS NULL;

-- The automatic release waits for its time among the held intents.
CREATE INDEX intents_auto_release ON intents (auto_release_at) WHERE auto_release_at IS NOT NULL;

ALTER TABLE intent_events DROP CONSTRAINT intent_events_type_check;
ALTER TABLE intent_events ADD CONSTRAINT intent_events_type_check CHECK (type IN (
    'created', 'deposit_initiated', 'deposit_in_doubt', 'deposit_rejected', 'deposit_confirmed',
    'deposit_failed', 'deposit_mismatch', 'deposit_expired', 'release_requested', 'refund_requested',
    'escrow_released', 'settled', 'refunded', 'refund_failed', 'payout_reversed', 'cancelled',
    'payout_failed', 'payout_retried', 'needs_attention',
    'part_release_requested', 'part_released', 'disputed', 'dispute_withdrawn', 'dispute_resolved',
    'auto_release_set'));
