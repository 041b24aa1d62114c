-- Governance in the journal (kept in step with ../../sqlite by hand).
--
-- * Governance entries (genesis, admissions, suspensions, re-keyings,
--   threshold changes) are transactions of kind 'governance' in the blocks;
--   `participants` becomes a view of them, written by the batch writer in the
--   same database transaction as the block that holds the entry.
-- * `chain_head` carries what the journal's governance and issuance fix: the
--   threshold in force, the supply ceiling fixed at genesis and the money
--   outstanding (issued minus redeemed), kept under the chain lock so that no
--   issue can take the supply past the ceiling.
-- * `audit_runs` replaces `audits`: an audit is a job with a state, started by
--   a request or by the schedule, that records what it proved.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_kind_check,
    ADD CONSTRAINT transactions_kind_check
        CHECK (kind IN ('issue', 'transfer', 'redeem', 'governance'));

ALTER TABLE chain_head
    ADD COLUMN threshold INTEGER NOT NULL DEFAULT 0 CHECK (threshold >= 0),
    ADD COLUMN supply_ceiling BIGINT NOT NULL DEFAULT 0 CHECK (supply_ceiling >= 0),
    ADD COLUMN outstanding BIGINT NOT NULL DEFAULT 0 CHECK (outstanding >= 0);
UPDATE chain_head SET outstanding =
    (SELECT COALESCE(SUM(amount), 0) FROM issuances)
    - (SELECT COALESCE(SUM(amount), 0) FROM redemptions);

DROP TABLE audits;
CREATE TABLE audit_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger TEXT NOT NULL CHECK (trigger IN ('request', 'schedule')),
    state TEXT NOT NULL CHECK (state IN ('running', 'passed', 'failed', 'abandoned')),
    started_unix_ms BIGINT NOT NULL CHECK (started_unix_ms >= 0),
    finished_unix_ms BIGINT CHECK (finished_unix_ms IS NULL OR finished_unix_ms >= 0),
    -- The last block the audit covered (NULL: an empty journal, or not finished).
    height BIGINT CHECK (height IS NULL OR height >= 0),
    block_hash BYTEA CHECK (block_hash IS NULL OR length(block_hash) = 32),
    blocks BIGINT CHECK (blocks IS NULL OR blocks >= 0),
    transactions BIGINT CHECK (transactions IS NULL OR transactions >= 0),
    unspent_notes BIGINT CHECK (unspent_notes IS NULL OR unspent_notes >= 0),
    -- Cumulative totals as decimal text: they are 128-bit in the audit.
    issued TEXT,
    redeemed TEXT,
    outstanding BIGINT CHECK (outstanding IS NULL OR outstanding >= 0),
    problem TEXT,
    CHECK ((state = 'running') = (finished_unix_ms IS NULL))
);
CREATE INDEX audit_runs_passed ON audit_runs (id) WHERE state = 'passed';
