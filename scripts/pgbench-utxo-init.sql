-- Baseline for scripts/bench-ledger.sh: a plain-SQL UTXO ledger with amounts in
-- the clear, no proofs and no signatures, so the difference to the ledger service
-- is what confidentiality (and the service around it) costs.
-- psql -v notes=N: how many spendable notes to create (each pgbench transaction
-- spends one; they must outlast the run).
CREATE TABLE utxo_transactions (
    id BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE utxo_notes (
    id BIGSERIAL PRIMARY KEY,
    owner BYTEA NOT NULL CHECK (length(owner) = 32),
    amount BIGINT NOT NULL CHECK (amount >= 0),
    created_by BIGINT REFERENCES utxo_transactions (id),
    spent_by BIGINT REFERENCES utxo_transactions (id)
);
INSERT INTO utxo_notes (owner, amount)
SELECT sha256(int8send(g)), 1000 FROM generate_series(1, :notes) AS g;
CREATE INDEX utxo_notes_unspent_by_owner ON utxo_notes (owner) WHERE spent_by IS NULL;
CREATE INDEX utxo_notes_spent_by ON utxo_notes (spent_by) WHERE spent_by IS NOT NULL;
-- Hands each pgbench transaction its own note, as `cbdc bench` does.
CREATE SEQUENCE utxo_spend_cursor;
VACUUM ANALYZE utxo_notes;
