-- Two transactions posting onto an account neither has seen before (the first payouts of a
-- fresh database: the payee's and the commission's, run side by side, both need
-- `payouts_in_flight:KES`) no longer fail one of them. Migration 0124 refused the posting whose
-- statement could not see the account the other created, as a serialization failure; its job
-- was retried after its backoff, late (found by a CI run of `flows::job_bell`, whose idle poll
-- is a minute away).
--
-- The refused statement's `ON CONFLICT DO NOTHING` had already waited for the other
-- transaction to commit, so the account is committed: a new statement in this function (a
-- VOLATILE function takes a fresh snapshot per statement under READ COMMITTED) sees it and
-- writes the entries the first one could not. The usual posting is still one statement; the
-- second runs only after such a race. A posting still short after it (it cannot be, short of a
-- REPEATABLE READ caller) is refused as before.
CREATE OR REPLACE FUNCTION malipo_post_ledger(tx_key text, tx_kind text, tx_intent uuid, tx_memo text,
                                   codes text[], kinds text[], currencies text[],
                                   intents uuid[], amounts numeric[],
                                   OUT inserted bigint, OUT written bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    tx_id bigint;
    late bigint;
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
    SELECT (SELECT id FROM tx), (SELECT count(*) FROM entries) INTO tx_id, written;
    inserted := (tx_id IS NOT NULL)::int;
    IF tx_id IS NOT NULL AND written <> cardinality(codes) THEN
        -- Every entry of an account the first statement could not see is missing (the join
        -- dropped them all); none of the accounts it saw is.
        WITH wanted AS (
            SELECT * FROM unnest(codes, currencies, amounts) WITH ORDINALITY AS w (code, currency, amount, n)
        ), entries AS (
            INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
            SELECT tx_id, a.id, w.currency, w.amount
              FROM wanted w JOIN ledger_accounts a ON a.code = w.code
             WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e
                                WHERE e.transaction_id = tx_id AND e.account_id = a.id)
             ORDER BY w.n
            RETURNING 1
        )
        SELECT count(*) FROM entries INTO late;
        written := written + late;
    END IF;
    IF inserted > 0 AND written <> cardinality(codes) THEN
        RAISE EXCEPTION 'posting %: an account was created concurrently; retry', tx_key
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
