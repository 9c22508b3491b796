-- Reconciliation runs against a provider, and what each found.

CREATE TABLE reconciliation_reports (
    id           uuid PRIMARY KEY,
    provider     text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    summary      jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_reports_created ON reconciliation_reports (created_at DESC);

CREATE TABLE reconciliation_items (
    report_id uuid  NOT NULL REFERENCES reconciliation_reports (id) ON DELETE CASCADE,
    class     text  NOT NULL CHECK (class IN ('matched', 'missing_internal', 'missing_at_provider',
                                        'amount_mismatch', 'status_mismatch', 'resolved')),
    kind      text  NOT NULL,
    subject   text  NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX reconciliation_items_report ON reconciliation_items (report_id, class);

-- C2B payments: every confirmation received and every payment Pull revealed, with what was
-- done about it (credited to an intent, flagged, or just known).
ALTER TABLE unmatched_payments
    ADD COLUMN source     text NOT NULL DEFAULT 'confirmation' CHECK (source IN ('confirmation', 'pull')),
    ADD COLUMN intent_id  uuid REFERENCES intents (id),
    ADD COLUMN resolution text;

-- Daraja's Transaction Status result names only the query's own OriginatorConversationID, so
-- each query malipo makes is remembered with the payout it asks about.
CREATE TABLE mpesa_status_queries (
    originator_conversation_id text PRIMARY KEY,
    payout_reference           text        NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mpesa_status_queries_created ON mpesa_status_queries (created_at);
