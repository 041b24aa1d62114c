-- The ledger's store (PostgreSQL). Kept in step with ../../sqlite by hand: the
-- same tables, columns and constraints; only types and defaults differ.
--
-- Invariants the constraints keep (the code relies on them):
-- * a note is spent at most once: `spent_by` goes from NULL to a transaction id
--   in one guarded UPDATE and never back;
-- * every committed transaction sits in exactly one block, at a unique index;
-- * events are numbered gap-free in commit order (allocated under the lock on
--   `chain_head`, see ledger/service/src/store/apply.rs);
-- * primary keys are NOT NULL explicitly (SQLite would otherwise allow NULL);
-- * amounts are non-negative BIGINTs (u64 in the domain, checked on the way in).

-- One row: the lock every block producer takes first, and the counters it advances.
CREATE TABLE chain_head (
    id SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    next_height BIGINT NOT NULL CHECK (next_height >= 0),
    tip_hash BYTEA NOT NULL CHECK (length(tip_hash) = 32),
    next_event_seq BIGINT NOT NULL CHECK (next_event_seq >= 1)
);
INSERT INTO chain_head (id, next_height, tip_hash, next_event_seq)
VALUES (1, 0, decode(repeat('00', 32), 'hex'), 1);

CREATE TABLE blocks (
    height BIGINT NOT NULL PRIMARY KEY CHECK (height >= 0),
    hash BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
    prev_hash BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    merkle_root BYTEA NOT NULL CHECK (length(merkle_root) = 32),
    time_unix_ms BIGINT NOT NULL CHECK (time_unix_ms >= 0),
    tx_count INTEGER NOT NULL CHECK (tx_count > 0),
    header BYTEA NOT NULL,
    signature BYTEA NOT NULL
);

CREATE TABLE transactions (
    id BYTEA NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    kind TEXT NOT NULL CHECK (kind IN ('issue', 'transfer', 'redeem')),
    encoded BYTEA NOT NULL,
    -- The block row is written after the transactions it seals, in the same
    -- database transaction, hence deferred.
    block_height BIGINT NOT NULL REFERENCES blocks (height) DEFERRABLE INITIALLY DEFERRED,
    block_index INTEGER NOT NULL CHECK (block_index >= 0),
    UNIQUE (block_height, block_index)
);

CREATE TABLE notes (
    id BYTEA NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    owner BYTEA NOT NULL CHECK (length(owner) = 32),
    commitment BYTEA NOT NULL CHECK (length(commitment) = 32),
    memo BYTEA NOT NULL,
    created_by BYTEA NOT NULL REFERENCES transactions (id),
    output_index INTEGER NOT NULL CHECK (output_index >= 0),
    created_seq BIGINT NOT NULL,
    spent_by BYTEA REFERENCES transactions (id),
    spent_seq BIGINT,
    CHECK ((spent_by IS NULL) = (spent_seq IS NULL)),
    UNIQUE (created_by, output_index)
);
-- Supply audit pages through unspent notes by id; wallets look up by owner.
CREATE INDEX notes_unspent_by_id ON notes (id) WHERE spent_by IS NULL;
CREATE INDEX notes_unspent_by_owner ON notes (owner) WHERE spent_by IS NULL;
CREATE INDEX notes_spent_by ON notes (spent_by) WHERE spent_by IS NOT NULL;

CREATE TABLE kernels (
    tx_id BYTEA NOT NULL PRIMARY KEY REFERENCES transactions (id),
    excess BYTEA NOT NULL CHECK (length(excess) = 32)
);

CREATE TABLE issuances (
    tx_id BYTEA NOT NULL PRIMARY KEY REFERENCES transactions (id),
    amount BIGINT NOT NULL CHECK (amount >= 0),
    blinding BYTEA NOT NULL CHECK (length(blinding) = 32)
);

CREATE TABLE redemptions (
    tx_id BYTEA NOT NULL PRIMARY KEY REFERENCES transactions (id),
    amount BIGINT NOT NULL CHECK (amount >= 0)
);

CREATE TABLE events (
    seq BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 1),
    kind TEXT NOT NULL CHECK (kind IN ('created', 'spent')),
    note_id BYTEA NOT NULL REFERENCES notes (id),
    owner BYTEA NOT NULL CHECK (length(owner) = 32),
    tx_id BYTEA NOT NULL REFERENCES transactions (id)
);
CREATE INDEX events_by_owner ON events (owner, seq);

CREATE TABLE participants (
    id TEXT NOT NULL PRIMARY KEY CHECK (length(id) > 0),
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('officer', 'bank')),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    spend_public_key BYTEA NOT NULL UNIQUE CHECK (length(spend_public_key) = 32),
    view_public_key BYTEA CHECK (view_public_key IS NULL OR length(view_public_key) = 32),
    created_at_unix_ms BIGINT NOT NULL CHECK (created_at_unix_ms >= 0)
);

CREATE TABLE issuance_proposals (
    id BYTEA NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    bank_id TEXT NOT NULL REFERENCES participants (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    proposer_id TEXT NOT NULL REFERENCES participants (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'executed', 'cancelled')),
    created_at_unix_ms BIGINT NOT NULL CHECK (created_at_unix_ms >= 0),
    executed_by BYTEA REFERENCES transactions (id),
    CHECK ((state = 'executed') = (executed_by IS NOT NULL))
);

CREATE TABLE issuance_approvals (
    proposal_id BYTEA NOT NULL REFERENCES issuance_proposals (id),
    officer_id TEXT NOT NULL REFERENCES participants (id),
    approved_at_unix_ms BIGINT NOT NULL CHECK (approved_at_unix_ms >= 0),
    -- The officer's signature over the approval, kept as evidence.
    signature BYTEA NOT NULL,
    PRIMARY KEY (proposal_id, officer_id)
);

CREATE TABLE request_nonces (
    key_id BYTEA NOT NULL,
    nonce BYTEA NOT NULL,
    seen_at_unix_ms BIGINT NOT NULL CHECK (seen_at_unix_ms >= 0),
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX request_nonces_by_age ON request_nonces (seen_at_unix_ms);

CREATE TABLE audits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_unix_ms BIGINT NOT NULL CHECK (time_unix_ms >= 0),
    height BIGINT,
    ok BOOLEAN NOT NULL,
    outstanding BIGINT NOT NULL CHECK (outstanding >= 0)
);
