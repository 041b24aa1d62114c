ALTER TABLE events
    DROP CONSTRAINT events_note_id_check,
    DROP CONSTRAINT events_tx_id_check,
    ADD CONSTRAINT events_note_id_fkey FOREIGN KEY (note_id) REFERENCES notes (id),
    ADD CONSTRAINT events_tx_id_fkey FOREIGN KEY (tx_id) REFERENCES transactions (id);
