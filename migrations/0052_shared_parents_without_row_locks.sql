-- Foreign keys to rows that nearly every transaction shares — a marketplace's one API client,
-- the provider clearing, commission and in-flight ledger accounts — made every inserting
-- transaction lock that row (FOR KEY SHARE). Concurrent lockers of one row share a MultiXact,
-- rebuilt for each new locker: `bench e2e` created 11 MultiXacts with 42 member slots per
-- lifecycle (pg_controldata), member space that wraps at 2^32 and forces anti-wraparound
-- vacuums, and the locking cost 5–10% of the machine's CPU.
--
-- These parents are never deleted and never change key: API clients are revoked, not removed;
-- ledger accounts are permanent. The triggers below enforce that, and with it a parent that
-- exists when a child row is written exists for good — so checking that it exists, without
-- locking it, keeps the guarantee the foreign key gave. Violations keep the foreign key's
-- SQLSTATE (23503). The checks run AFTER the row is written, so they see its final values
-- whatever other triggers do, and after NOT NULL has had its say.
--
-- Unlike a foreign key's internal triggers, these are user triggers: `ALTER TABLE … DISABLE
-- TRIGGER USER` switches them off too. `malipo ledger check` therefore also reports entries
-- whose account does not exist in their currency.

CREATE FUNCTION parent_is_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are permanent: they can be neither removed nor re-keyed', TG_TABLE_NAME
        USING ERRCODE = 'foreign_key_violation';
END;
$$;

CREATE TRIGGER api_clients_permanent BEFORE DELETE ON api_clients
    FOR EACH ROW EXECUTE FUNCTION parent_is_permanent();
CREATE TRIGGER api_clients_keep_key BEFORE UPDATE ON api_clients
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION parent_is_permanent();
CREATE TRIGGER api_clients_not_truncated BEFORE TRUNCATE ON api_clients
    FOR EACH STATEMENT EXECUTE FUNCTION parent_is_permanent();

CREATE TRIGGER ledger_accounts_permanent BEFORE DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION parent_is_permanent();
CREATE TRIGGER ledger_accounts_keep_key BEFORE UPDATE ON ledger_accounts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.currency IS DISTINCT FROM NEW.currency)
    EXECUTE FUNCTION parent_is_permanent();
CREATE TRIGGER ledger_accounts_not_truncated BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION parent_is_permanent();

-- Intents and idempotency keys belong to an existing API client.
CREATE FUNCTION client_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM api_clients WHERE id = NEW.client_id) THEN
        RAISE EXCEPTION 'insert or update on table "%" violates: client % does not exist',
            TG_TABLE_NAME, NEW.client_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE intents DROP CONSTRAINT intents_client_id_fkey;
CREATE TRIGGER intents_client_exists AFTER INSERT OR UPDATE OF client_id ON intents
    FOR EACH ROW EXECUTE FUNCTION client_exists();

ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_client_id_fkey;
CREATE TRIGGER idempotency_keys_client_exists AFTER INSERT OR UPDATE OF client_id ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION client_exists();

-- A ledger entry posts to an existing account of its own currency (entries are immutable, so
-- only inserts need the check).
CREATE FUNCTION entry_account_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_accounts WHERE id = NEW.account_id AND currency = NEW.currency) THEN
        RAISE EXCEPTION 'insert on table "ledger_entries" violates: no account % in %',
            NEW.account_id, NEW.currency USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_id_currency_fkey;
CREATE TRIGGER ledger_entries_account_exists AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION entry_account_exists();
