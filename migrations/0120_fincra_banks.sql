-- The Nigerian banks Fincra pays to, as last refreshed from Fincra's
-- GET /core/banks?country=NG&currency=NGN&paymentDestination=bank_account.
-- Empty until the first refresh: destination checks then use the list shipped with the binary
-- (src/providers/fincra/banks.rs). A refresh replaces the whole list in one transaction.
CREATE TABLE fincra_banks (
    code         text PRIMARY KEY CHECK (code ~ '^[0-9]{3,9}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    refreshed_at timestamptz NOT NULL DEFAULT now()
);
