DROP TABLE audit_runs;
CREATE TABLE audits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_unix_ms BIGINT NOT NULL CHECK (time_unix_ms >= 0),
    height BIGINT,
    ok BOOLEAN NOT NULL,
    outstanding BIGINT NOT NULL CHECK (outstanding >= 0)
);
ALTER TABLE chain_head DROP COLUMN threshold, DROP COLUMN supply_ceiling, DROP COLUMN outstanding;
ALTER TABLE transactions
    DROP CONSTRAINT transactions_kind_check,
    ADD CONSTRAINT transactions_kind_check CHECK (kind IN ('issue', 'transfer', 'redeem'));
