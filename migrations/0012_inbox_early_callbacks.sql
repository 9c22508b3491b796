-- initiate_deposit looks for STK callbacks that overtook it (kept as `ignored`) in the last minutes.
CREATE INDEX webhook_inbox_ignored_recent ON webhook_inbox (provider, endpoint, received_at) WHERE status = 'ignored';
