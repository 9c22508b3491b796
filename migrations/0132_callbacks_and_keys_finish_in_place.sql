-- A callback row and an idempotency key are each written once more after their insert, and
-- that update changes no column any index needs: the callback's outcome (`status`, `reason`,
-- `processed_at`) and the key's stored response. PostgreSQL can then keep the new version on
-- the same page and enter it in no index (a HOT update), instead of a new entry in every index
-- of the table (issue #21: what a lifecycle costs is mostly rows and index entries written;
-- five callbacks and two keys per lifecycle).
--
-- Two things stood in the way:
-- * `webhook_inbox_ignored_recent` (migration 0012) has `status = 'ignored'` as its predicate,
--   so every change of `status` counted as a change of an indexed column. Its one reader,
--   `db::inbox::requeue_early_stk`, names the callback's subject too, which
--   `webhook_inbox_subject` (migration 0100) finds directly: a handful of rows per
--   CheckoutRequestID at most.
-- * Pages filled to the brim at insert leave no room for the new version. A callback row holds
--   its raw body (about 1 KB) and a key its response: half of each page (callbacks) and a
--   third (keys) stay free for the update, and pruning gives the old versions' room back.
--   Only pages written from now on are filled this way.
DROP INDEX webhook_inbox_ignored_recent;
ALTER TABLE webhook_inbox SET (fillfactor = 50);
ALTER TABLE idempotency_keys SET (fillfactor = 70);
