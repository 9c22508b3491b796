-- The optional fixed part of an intent's commission, in the intent's currency (0: none). Fixed
-- at creation, with the basis points, so a release applies the terms the buyer paid under.
ALTER TABLE intents
    ADD COLUMN commission_fixed_fee numeric(20, 2) NOT NULL DEFAULT 0 CHECK (commission_fixed_fee >= 0);
