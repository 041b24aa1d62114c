-- A commercial bank's gateway: its customers, wallets, notes, deposit
-- accounts, operations (the outbox of fund, defund, pay, sweep and redeem),
-- the ledger's chain as the gateway verified it, and the follower's cursor.
-- Amounts are minor units in BIGINT (never above i64::MAX); times are
-- milliseconds since the Unix epoch.

-- Facts the gateway keeps about itself: `ledger_key`, `bank_key`,
-- `follower_cursor`, `issuance_proposal`.
CREATE TABLE gateway_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every block header the gateway verified (signature, and that it extends
-- the one before): the ledger's history as this bank saw it.
CREATE TABLE chain_headers (
    height BIGINT PRIMARY KEY,
    hash BLOB NOT NULL,
    header BLOB NOT NULL,
    signature BLOB NOT NULL,
    seen_ms BIGINT NOT NULL
);

-- A rollback, a fork or a bad signature: while one is unacknowledged no
-- payment is treated as final.
CREATE TABLE chain_alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    height BIGINT NOT NULL,
    detail TEXT NOT NULL,
    raised_ms BIGINT NOT NULL,
    acknowledged_ms BIGINT,
    acknowledged_by TEXT
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL UNIQUE,
    national_id TEXT,
    tier TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- The bank's own books, in plain amounts.
CREATE TABLE deposit_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    balance BIGINT NOT NULL CHECK (balance >= 0),
    created_ms BIGINT NOT NULL
);

CREATE TABLE deposit_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES deposit_accounts (id),
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    reference TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);
CREATE INDEX deposit_entries_account ON deposit_entries (account_id, id);

-- Customer wallets, and one row (kind 'float') for the bank's own notes.
-- `sealed_keys` is the AEAD ciphertext of the wallet's spend and view secret
-- keys under the key-encryption key `kek_id` (NULL for the float, whose keys
-- are the bank's identity).
CREATE TABLE wallets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT REFERENCES customers (id),
    kind TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    spend_key BLOB NOT NULL UNIQUE,
    view_key BLOB NOT NULL,
    sealed_keys BLOB,
    kek_id TEXT,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    frozen BOOLEAN NOT NULL,
    deposit_account_id BIGINT REFERENCES deposit_accounts (id),
    auto_topup BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX wallets_customer ON wallets (customer_id);

-- Every note the bank holds, with its opening. `state`: unspent, reserved
-- (by operation `op_id`), spent, held (credited to nobody until an operator
-- releases it).
CREATE TABLE notes (
    id BLOB PRIMARY KEY,
    wallet_id BIGINT NOT NULL REFERENCES wallets (id),
    value BIGINT NOT NULL CHECK (value > 0),
    blinding BLOB NOT NULL,
    commitment BLOB NOT NULL,
    created_tx BLOB NOT NULL,
    state TEXT NOT NULL,
    op_id BIGINT,
    reason TEXT,
    credited_ms BIGINT NOT NULL,
    spent_ms BIGINT
);
CREATE INDEX notes_wallet_state ON notes (wallet_id, state);

-- The outbox: each operation's state machine (reserved -> built ->
-- submitted -> final, or failed), written in the same database transaction
-- as each of its effects, resumed by any replica after a crash.
CREATE TABLE operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    wallet_id BIGINT NOT NULL REFERENCES wallets (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    to_address TEXT,
    payee_wallet_id BIGINT REFERENCES wallets (id),
    deposit_account_id BIGINT REFERENCES deposit_accounts (id),
    state TEXT NOT NULL,
    tx_id BLOB UNIQUE,
    tx BLOB,
    outputs TEXT,
    receipt TEXT,
    error_code TEXT,
    error_message TEXT,
    idempotency_key TEXT UNIQUE,
    request_hash BLOB,
    parent_id BIGINT REFERENCES operations (id),
    attempts INTEGER NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX operations_open ON operations (state) WHERE state IN ('reserved', 'built', 'submitted');
CREATE INDEX operations_wallet ON operations (wallet_id, created_ms);

-- Each wallet's history with running balances: what statements print.
CREATE TABLE wallet_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet_id BIGINT NOT NULL REFERENCES wallets (id),
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    kind TEXT NOT NULL,
    op_id BIGINT REFERENCES operations (id),
    note_id BLOB,
    created_ms BIGINT NOT NULL
);
CREATE INDEX wallet_entries_wallet ON wallet_entries (wallet_id, id);

-- Notes of the ledger's feed owned by the bank's addresses that could not be
-- credited: a memo that does not open, an opening that does not match.
CREATE TABLE flagged_notes (
    note_id BLOB PRIMARY KEY,
    wallet_id BIGINT NOT NULL REFERENCES wallets (id),
    tx_id BLOB NOT NULL,
    reason TEXT NOT NULL,
    flagged_ms BIGINT NOT NULL
);

-- Leases: one follower at a time across replicas.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
