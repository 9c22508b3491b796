-- What a callback's URL says it is about. An M-Pesa Transaction Status result names only the
-- query's own ids, so each query's ResultURL ends in the payout reference it asks about; the
-- reference is kept here for `process_webhook`.
ALTER TABLE webhook_inbox ADD COLUMN subject text;

-- Superseded by `subject`: correlating a result through the query's acknowledged id failed
-- whenever that acknowledgement was lost (found by the chaos suite).
DROP TABLE mpesa_status_queries;

-- When a payout the provider said it never received was last sent again (`initiated_at` keeps
-- the first send, which the 24 h give-up counts from).
ALTER TABLE payouts ADD COLUMN resent_at timestamptz;
