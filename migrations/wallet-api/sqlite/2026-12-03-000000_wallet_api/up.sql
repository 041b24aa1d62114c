-- The wallet API: the apps that may call it, the wallets it opened and the
-- bank each is at, hashed wallet tokens, idempotency keys and payment
-- requests. No money and no keys: balances and notes are the banks'.
-- Times are milliseconds since the Unix epoch; amounts minor units.

-- Facts the service keeps about itself (and the row SQLite's writers lock).
CREATE TABLE api_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO api_state (name, value) VALUES ('', '');

-- A licensed wallet app. Its key is `<id>.<secret>`; only SHA-256(secret)
-- is kept.
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);

-- A wallet opened through the API: which bank holds it and its id there.
CREATE TABLE wallets (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id),
    bank_id TEXT NOT NULL,
    gateway_wallet_id INTEGER NOT NULL,
    address TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (bank_id, gateway_wallet_id)
);
CREATE INDEX wallets_by_address ON wallets (address);

-- A wallet token: only SHA-256(token) is kept. Bound to one app and one
-- wallet; expires; revocable.
CREATE TABLE wallet_tokens (
    hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
    wallet_id TEXT NOT NULL REFERENCES wallets (id),
    app_id TEXT NOT NULL REFERENCES apps (id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE INDEX wallet_tokens_by_wallet ON wallet_tokens (wallet_id);

-- An Idempotency-Key of a wallet and the hash of the route and body it was
-- first used with (the same key with another hash is a 409).
CREATE TABLE idempotency_keys (
    wallet_id TEXT NOT NULL REFERENCES wallets (id),
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (wallet_id, key)
);

-- A merchant's payment request. `open` → `paying` (claimed by one payer's
-- wallet and idempotency key, in one transaction, before the bank is asked)
-- → `paid` (the payment is final), or back to `open` if the bank refused
-- it; `open` → `cancelled`.
CREATE TABLE payment_requests (
    id TEXT PRIMARY KEY,
    wallet_id TEXT NOT NULL REFERENCES wallets (id),
    address TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    reference TEXT,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'paying', 'paid', 'cancelled')),
    payer_wallet_id TEXT REFERENCES wallets (id),
    payer_key TEXT,
    claimed_ms INTEGER,
    payment_id INTEGER,
    paid_ms INTEGER,
    CHECK ((state = 'open' OR state = 'cancelled') = (payer_wallet_id IS NULL)),
    CHECK ((state = 'paid') = (paid_ms IS NOT NULL))
);
CREATE INDEX payment_requests_by_wallet ON payment_requests (wallet_id, created_ms);
CREATE INDEX payment_requests_paying ON payment_requests (claimed_ms) WHERE state = 'paying';
