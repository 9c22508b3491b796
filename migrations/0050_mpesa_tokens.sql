-- The Daraja OAuth token, one per credential set, shared by every malipo process.
-- Daraja invalidates the previous token whenever it issues a new one, so processes must not
-- each fetch their own: a refresh takes an advisory lock on the credential set, re-reads this
-- row, and fetches only if the stored token is stale (see src/providers/mpesa/token_pg.rs).
CREATE TABLE mpesa_tokens (
    -- SHA-256 of the Daraja base URL and consumer key; never the key itself.
    credential_key text PRIMARY KEY,
    -- A bearer token valid for about an hour.
    access_token   text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    refreshed_at   timestamptz NOT NULL DEFAULT now()
);
