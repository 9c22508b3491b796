-- `malipo_post_ledger` (0051) also refuses a posting it could not write whole. A state move and
-- its posting are now one statement (`payouts::set_status`, `transitions::transition_posting`,
-- `releases::mark_posted`), and a payout's `begin` commits on its own: the caller's check of
-- the written count (`ledger::Posting::outcome`) comes after that commit. The deferred balance
-- trigger already refused an unbalanced transaction; this also covers one with no entries.
CREATE OR REPLACE FUNCTION malipo_post_ledger(tx_key text, tx_kind text, tx_intent uuid, tx_memo text,
                                   codes text[], kinds text[], currencies text[],
                                   intents uuid[], amounts numeric[],
                                   OUT inserted bigint, OUT written bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH tx AS (
        INSERT INTO ledger_transactions (idempotency_key, kind, intent_id, memo)
        VALUES (tx_key, tx_kind, tx_intent, tx_memo)
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING ledger_transactions.id
    ), wanted AS (
        SELECT * FROM unnest(codes, kinds, currencies, intents, amounts)
            WITH ORDINALITY AS w (code, kind, currency, intent_id, amount, n)
    ), created AS (
        INSERT INTO ledger_accounts AS a (code, kind, currency, intent_id)
        SELECT DISTINCT ON (w.code) w.code, w.kind, w.currency, w.intent_id FROM wanted w
         WHERE EXISTS (SELECT 1 FROM tx)
        ON CONFLICT (code) DO NOTHING RETURNING a.id, a.code
    ), accounts AS (
        SELECT c.id, c.code FROM created c
        UNION ALL
        SELECT a.id, a.code FROM ledger_accounts a WHERE a.code IN (SELECT w.code FROM wanted w)
    ), entries AS (
        INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
        SELECT tx.id, accounts.id, w.currency, w.amount
          FROM tx, wanted w JOIN accounts USING (code) ORDER BY w.n
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM tx), (SELECT count(*) FROM entries) INTO inserted, written;
    -- An account created by a concurrent transaction after this statement began is invisible
    -- to it, so its entry was not written: refuse here, so the statement that called this (a
    -- state move with its posting, which may commit on its own) never commits a partial one.
    IF inserted > 0 AND written <> cardinality(codes) THEN
        RAISE EXCEPTION 'posting %: an account was created concurrently; retry', tx_key
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
