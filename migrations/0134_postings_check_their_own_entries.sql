-- A posting made by `malipo_post_ledger` checks its entries itself, once per posting, instead of
-- four row checks per entry (issue #21). Every posting malipo makes goes through this function.
-- Each of its entries paid for:
--   * the deferred balance check (`ledger_entries_balance`), which summed the entry's whole
--     transaction again at commit, once per entry;
--   * the account check (`ledger_entries_account_exists`, migration 0052);
--   * the client-balance upkeep (`ledger_entries_client_balance`, migration 0111), an UPDATE
--     that found no row for any account but a client's balance;
--   * the foreign key to its transaction, which locked the transaction's row (FOR KEY SHARE)
--     and WAL-logged that lock.
-- That was 52 trigger calls per `bench e2e` lifecycle (13 entries), each a PL/pgSQL call or
-- an RI query with its own executor start-up.
--
-- The function knows each of these by construction or checks it set-based:
--   * balance: its entries are its arguments, all written or none (migration 0124), so it
--     sums them per currency as the column stores them (rounded to `numeric(20,2)`) and
--     refuses an unbalanced posting;
--   * account: it joins each entry to its account by code *and currency*, and refuses an entry
--     whose code names an account of another currency (23503, as the trigger did);
--   * client balances: its statement returns the entries on accounts that have a
--     `client_balances` row (the rows the trigger's UPDATE would find), and one UPDATE, run
--     only when there are any, moves those rows by each account's net amount (the CHECK on
--     `available` still refuses an overdraft in the posting's own call);
--   * transaction: it writes the entries with the transaction it has just inserted.
--
-- The row checks stay, for every other writer: they skip only while `malipo.posting` is
-- 'checked', which this function's SET clause sets for the length of its call and restores
-- after (a WHEN clause, evaluated by the executor: no function call). A direct INSERT, or one
-- after a posting in the same transaction, is checked as before. Setting `malipo.posting` by
-- hand switches the checks off, as `ALTER TABLE … DISABLE TRIGGER USER` does, but needs no
-- privilege: it guards against a mistaken writer, not a hostile one (malipo's one database
-- role owns the tables and could disable the triggers anyway). `malipo ledger check` reports
-- what either lets through.
--
-- The foreign key to `ledger_transactions` becomes such a check, without a lock, as migration
-- 0052 did for accounts: transactions are immutable (`ledger_transactions_immutable` refuses
-- UPDATE and DELETE) and now cannot be truncated, so one that exists when its entry is written
-- exists for good.

CREATE OR REPLACE FUNCTION malipo_post_ledger(tx_key text, tx_kind text, tx_intent uuid, tx_memo text,
                                   codes text[], kinds text[], currencies text[],
                                   intents uuid[], amounts numeric[],
                                   OUT inserted bigint, OUT written bigint)
LANGUAGE plpgsql
-- Migrations 0051 and 0128's settings, which CREATE OR REPLACE would otherwise drop.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET malipo.posting = 'checked'
AS $$
DECLARE
    tx_id bigint;
    late bigint;
    unbalanced text;
    balance_accounts bigint[];
    balance_amounts numeric[];
    late_accounts bigint[];
    late_amounts numeric[];
    foreign_code text;
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
        ON CONFLICT (code) DO NOTHING RETURNING a.id, a.code, a.currency
    ), accounts AS (
        SELECT c.id, c.code, c.currency FROM created c
        UNION ALL
        SELECT a.id, a.code, a.currency FROM ledger_accounts a
         WHERE a.code IN (SELECT w.code FROM wanted w)
    ), entries AS (
        INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
        SELECT tx.id, accounts.id, w.currency, w.amount
          FROM tx, wanted w
          JOIN accounts ON accounts.code = w.code AND accounts.currency = w.currency
         ORDER BY w.n
        RETURNING account_id, amount
    ), balances AS (
        SELECT e.account_id, sum(e.amount) AS amount FROM entries e
         WHERE EXISTS (SELECT 1 FROM client_balances b WHERE b.account_id = e.account_id)
         GROUP BY e.account_id
    )
    SELECT (SELECT id FROM tx), (SELECT count(*) FROM entries),
           (SELECT w.currency FROM wanted w GROUP BY w.currency
            HAVING sum(w.amount::numeric(20, 2)) <> 0 LIMIT 1),
           (SELECT array_agg(b.account_id ORDER BY b.account_id) FROM balances b),
           (SELECT array_agg(b.amount ORDER BY b.account_id) FROM balances b)
      INTO tx_id, written, unbalanced, balance_accounts, balance_amounts;
    inserted := (tx_id IS NOT NULL)::int;
    IF tx_id IS NULL THEN
        -- Posted before: nothing written now.
        RETURN;
    END IF;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'posting % does not balance in %', tx_key, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    IF written <> cardinality(codes) THEN
        -- Every entry of an account the first statement could not see is missing (the join
        -- dropped them all); none of the accounts it saw is (migration 0127).
        WITH wanted AS (
            SELECT * FROM unnest(codes, currencies, amounts) WITH ORDINALITY AS w (code, currency, amount, n)
        ), entries AS (
            INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
            SELECT tx_id, a.id, w.currency, w.amount
              FROM wanted w JOIN ledger_accounts a ON a.code = w.code AND a.currency = w.currency
             WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e
                                WHERE e.transaction_id = tx_id AND e.account_id = a.id)
             ORDER BY w.n
            RETURNING account_id, amount
        ), balances AS (
            SELECT e.account_id, sum(e.amount) AS amount FROM entries e
             WHERE EXISTS (SELECT 1 FROM client_balances b WHERE b.account_id = e.account_id)
             GROUP BY e.account_id
        )
        SELECT (SELECT count(*) FROM entries),
               (SELECT array_agg(b.account_id ORDER BY b.account_id) FROM balances b),
               (SELECT array_agg(b.amount ORDER BY b.account_id) FROM balances b)
          INTO late, late_accounts, late_amounts;
        written := written + late;
        balance_accounts := balance_accounts || late_accounts;
        balance_amounts := balance_amounts || late_amounts;
    END IF;
    IF written <> cardinality(codes) THEN
        SELECT w.code || ' in ' || w.currency INTO foreign_code
          FROM unnest(codes, currencies) AS w (code, currency)
          JOIN ledger_accounts a ON a.code = w.code AND a.currency <> w.currency
         LIMIT 1;
        IF foreign_code IS NOT NULL THEN
            RAISE EXCEPTION 'posting %: no account %', tx_key, foreign_code
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'posting %: an account was created concurrently; retry', tx_key
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF balance_accounts IS NOT NULL THEN
        -- In account order, so two postings onto the same two balances cannot deadlock.
        UPDATE client_balances AS b SET available = b.available - m.amount
          FROM unnest(balance_accounts, balance_amounts) AS m (account_id, amount)
         WHERE b.account_id = m.account_id;
    END IF;
END
$$;

-- The row checks skip the entries this function has checked.
DROP TRIGGER ledger_entries_balance ON ledger_entries;
CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (current_setting('malipo.posting', true) IS DISTINCT FROM 'checked')
    EXECUTE FUNCTION ledger_transaction_balances();

DROP TRIGGER ledger_entries_account_exists ON ledger_entries;
CREATE TRIGGER ledger_entries_account_exists AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (current_setting('malipo.posting', true) IS DISTINCT FROM 'checked')
    EXECUTE FUNCTION entry_account_exists();

DROP TRIGGER ledger_entries_client_balance ON ledger_entries;
CREATE TRIGGER ledger_entries_client_balance AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (current_setting('malipo.posting', true) IS DISTINCT FROM 'checked')
    EXECUTE FUNCTION malipo_track_client_balance();

-- An entry belongs to an existing transaction: checked without locking it.
CREATE FUNCTION entry_transaction_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_transactions WHERE id = NEW.transaction_id) THEN
        RAISE EXCEPTION 'insert on table "ledger_entries" violates: no ledger transaction %',
            NEW.transaction_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_fkey;
CREATE TRIGGER ledger_entries_transaction_exists AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (current_setting('malipo.posting', true) IS DISTINCT FROM 'checked')
    EXECUTE FUNCTION entry_transaction_exists();
CREATE TRIGGER ledger_transactions_not_truncated BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION parent_is_permanent();
