-- `deposit_requested_at` (0121) is now set by every deposit's first `initiate_deposit` run, in
-- the statement that also loads the intent, so a first run costs one round trip. Only M-Pesa
-- reads it: an STK push carries no idempotency key, so a later run that finds it set never
-- prompts the buyer again. Paystack and Fincra checkouts are keyed by reference and a Lightning
-- invoice nobody was shown cannot be paid, so their later runs ask again.
COMMENT ON COLUMN intents.deposit_requested_at IS
    'When the first initiate_deposit run asked the provider to start the deposit; M-Pesa never prompts the buyer twice once it is set (cleared when a refusal proved nothing was sent).';
