CREATE TABLE events_rebuilt (
    seq BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 1),
    kind TEXT NOT NULL CHECK (kind IN ('created', 'spent')),
    note_id BLOB NOT NULL REFERENCES notes (id),
    owner BLOB NOT NULL CHECK (length(owner) = 32),
    tx_id BLOB NOT NULL REFERENCES transactions (id)
);
INSERT INTO events_rebuilt (seq, kind, note_id, owner, tx_id)
    SELECT seq, kind, note_id, owner, tx_id FROM events;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_by_owner ON events (owner, seq);
