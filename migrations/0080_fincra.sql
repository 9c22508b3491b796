-- Fincra joins the providers (issue #19): intents and payouts may name it. The CHECKs are
-- replaced rather than dropped so a misspelt provider is still refused by the database.
ALTER TABLE intents DROP CONSTRAINT intents_provider_check,
    ADD CONSTRAINT intents_provider_check CHECK (provider IN ('paystack', 'mpesa', 'lightning', 'fincra'));
ALTER TABLE payouts DROP CONSTRAINT payouts_provider_check,
    ADD CONSTRAINT payouts_provider_check CHECK (provider IN ('paystack', 'mpesa', 'lightning', 'fincra'));
