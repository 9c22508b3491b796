-- The operator console (`/console`): a read-only operator role, server-side login sessions, and
-- the index the intent page needs to find an intent's webhook rows by payout reference.

-- `viewer`: an operator key that may look at the console and change nothing. It has no access
-- to /ops or /v1 (http/auth.rs accepts only `operator` and `client` there).
ALTER TABLE api_clients DROP CONSTRAINT api_clients_role_check;
ALTER TABLE api_clients ADD CONSTRAINT api_clients_role_check
    CHECK (role IN ('client', 'operator', 'viewer'));

-- One row per console login. Only the SHA-256 of the cookie's token is stored, as for API
-- keys; the CSRF token is per session. `client_id` is the operator key's client, checked (not
-- revoked) on every request, so revoking the key ends its sessions at once. No foreign key:
-- api_clients is a shared parent referenced without row locks (0052).
CREATE TABLE console_sessions (
    token_hash   text        PRIMARY KEY,
    client_id    uuid        NOT NULL,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE INDEX webhook_inbox_subject ON webhook_inbox (subject) WHERE subject IS NOT NULL;

-- "Needs a person" on the console's discrepancies page without scanning every intent: each arm
-- of the question has its own small partial index.
CREATE INDEX intents_in_motion ON intents (updated_at) WHERE status IN ('releasing', 'refunding');
CREATE INDEX intents_flagged ON intents (updated_at) WHERE flagged_reason IS NOT NULL;
CREATE INDEX payouts_unfinished ON payouts (intent_id) WHERE status IN ('pending', 'in_flight');
