-- Kept in step with ../../postgres (see the reasons there).
--
-- SQLite cannot change a CHECK constraint, so `transactions` is rebuilt the
-- way SQLite documents (with foreign keys off, outside diesel's transaction:
-- see metadata.toml): a new table, the rows copied, the old one dropped and
-- the new one renamed into its place, so the foreign keys of notes, kernels,
-- issuances, redemptions and proposals, which name `transactions`, point at
-- the rebuilt table with the same rows.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE transactions_rebuilt (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    kind TEXT NOT NULL CHECK (kind IN ('issue', 'transfer', 'redeem', 'governance')),
    encoded BLOB NOT NULL,
    block_height BIGINT NOT NULL REFERENCES blocks (height) DEFERRABLE INITIALLY DEFERRED,
    block_index INTEGER NOT NULL CHECK (block_index >= 0),
    UNIQUE (block_height, block_index)
);
INSERT INTO transactions_rebuilt (id, kind, encoded, block_height, block_index)
    SELECT id, kind, encoded, block_height, block_index FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_rebuilt RENAME TO transactions;

ALTER TABLE chain_head ADD COLUMN threshold INTEGER NOT NULL DEFAULT 0 CHECK (threshold >= 0);
ALTER TABLE chain_head ADD COLUMN supply_ceiling BIGINT NOT NULL DEFAULT 0 CHECK (supply_ceiling >= 0);
ALTER TABLE chain_head ADD COLUMN outstanding BIGINT NOT NULL DEFAULT 0 CHECK (outstanding >= 0);
UPDATE chain_head SET outstanding =
    (SELECT COALESCE(SUM(amount), 0) FROM issuances)
    - (SELECT COALESCE(SUM(amount), 0) FROM redemptions);

DROP TABLE audits;
CREATE TABLE audit_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger TEXT NOT NULL CHECK (trigger IN ('request', 'schedule')),
    state TEXT NOT NULL CHECK (state IN ('running', 'passed', 'failed', 'abandoned')),
    started_unix_ms BIGINT NOT NULL CHECK (started_unix_ms >= 0),
    finished_unix_ms BIGINT CHECK (finished_unix_ms IS NULL OR finished_unix_ms >= 0),
    height BIGINT CHECK (height IS NULL OR height >= 0),
    block_hash BLOB CHECK (block_hash IS NULL OR length(block_hash) = 32),
    blocks BIGINT CHECK (blocks IS NULL OR blocks >= 0),
    transactions BIGINT CHECK (transactions IS NULL OR transactions >= 0),
    unspent_notes BIGINT CHECK (unspent_notes IS NULL OR unspent_notes >= 0),
    issued TEXT,
    redeemed TEXT,
    outstanding BIGINT CHECK (outstanding IS NULL OR outstanding >= 0),
    problem TEXT,
    CHECK ((state = 'running') = (finished_unix_ms IS NULL))
);
CREATE INDEX audit_runs_passed ON audit_runs (id) WHERE state = 'passed';
COMMIT;
PRAGMA foreign_keys = ON;
