-- The lock that serialises everyone deciding whether a deposit handle (a CheckoutRequestID) is
-- one malipo issued is taken by two statements: the STK endpoint's, when a callback found the
-- handle unknown, and the job's, in the statement that records the handle. Both must derive
-- the same key, or the race between them reopens with nothing to show for it: the key is
-- derived here, once.
CREATE FUNCTION malipo_lock_provider_handle(provider text, handle text) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(provider || ':' || handle, 0))
$$;
