DROP TABLE audit_runs;
CREATE TABLE audits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_unix_ms BIGINT NOT NULL CHECK (time_unix_ms >= 0),
    height BIGINT,
    ok BOOLEAN NOT NULL,
    outstanding BIGINT NOT NULL CHECK (outstanding >= 0)
);
ALTER TABLE chain_head DROP COLUMN threshold;
ALTER TABLE chain_head DROP COLUMN supply_ceiling;
ALTER TABLE chain_head DROP COLUMN outstanding;
