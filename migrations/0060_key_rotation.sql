-- API key rotation with a grace period: after a rotation the previous key keeps working until
-- `previous_key_expires_at`; a revocation (revoked_at) stops both at once. As for the current
-- key, only the SHA-256 of the previous one is stored, with its visible prefix.

ALTER TABLE api_clients
    ADD COLUMN previous_key_hash       text UNIQUE,
    ADD COLUMN previous_key_prefix     text,
    ADD COLUMN previous_key_expires_at timestamptz,
    ADD COLUMN rotated_at              timestamptz,
    ADD CONSTRAINT api_clients_previous_key_whole
        CHECK ((previous_key_hash IS NULL) = (previous_key_expires_at IS NULL)
           AND (previous_key_hash IS NULL) = (previous_key_prefix IS NULL));
