-- When malipo asked M-Pesa to prompt the buyer (STK push) for an intent still `initiating` and
-- has not recorded the answer. An STK push carries no idempotency key: a run that dies between
-- the push and its commit (SIGKILL, a database crash) leaves a prompt on the phone that the
-- buyer may pay. A later run that finds this set never pushes again; it treats the deposit as
-- in doubt (Paybill by account number, matched by Pull). Cleared when M-Pesa's answer proved
-- nothing was sent (a retryable refusal).
ALTER TABLE intents ADD COLUMN deposit_requested_at timestamptz;
