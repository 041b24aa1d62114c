-- One plain UTXO transfer (pgbench -f): record the transaction, spend one note
-- with the guarded update the ledger uses, create a payment and a change note.
-- If the note was already spent the UPDATE returns no row, \gset fails and
-- pgbench counts the transaction as failed instead of creating money.
\set payee random(1, 1000000)
BEGIN;
SELECT nextval('utxo_spend_cursor') AS note \gset
INSERT INTO utxo_transactions DEFAULT VALUES RETURNING id AS tx \gset
UPDATE utxo_notes SET spent_by = :tx WHERE id = :note AND spent_by IS NULL RETURNING amount \gset
INSERT INTO utxo_notes (owner, amount, created_by) VALUES
    (sha256(int8send(:payee)), :amount / 2, :tx),
    ((SELECT owner FROM utxo_notes WHERE id = :note), :amount - :amount / 2, :tx);
COMMIT;
