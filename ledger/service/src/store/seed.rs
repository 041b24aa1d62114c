//! Filler notes for the scale benchmark: a ledger database with 10⁴ … 10⁶ extra
//! unspent notes, written in seconds (10⁶: about 20 s on two cores), on which the
//! real ledger keeps running.
//!
//! Issue 4 asks for throughput and the supply audit with up to 10⁶ unspent notes
//! in the store. Making those notes with real transactions would take hours (a
//! range proof per output), so [`seed_filler_notes`] writes *filler*: groups of
//! commitments to zero with distinct random blindings, `Cᵢ = rᵢ·B̃`, each group
//! balanced by one kernel `E = −(Σ rᵢ)·B̃`
//! ([`ZeroBalanced`](ledger_core::audit::ZeroBalanced)). What it keeps, and what it
//! does not:
//!
//! * **The supply equation holds.** Every group adds `Σ Cᵢ + E = 0`, so the live
//!   supply audit passes and does the work it would do on real notes: every
//!   commitment is a distinct valid point it must fetch, decompress and add.
//! * **Every store invariant holds**, so the ledger commits real batches on top:
//!   one synthetic transaction row per group of at most
//!   [`NOTES_PER_TRANSACTION_MAX`] notes, with its kernel row; the transactions
//!   sealed into consecutive blocks of at most [`BATCH_TRANSACTIONS_MAX`], signed
//!   by the ledger's block key and chained to the tip; one `created` event per note,
//!   numbered on from `chain_head.next_event_seq`; `chain_head` advanced past them,
//!   all in one database transaction that first locks `chain_head`, as a batch does.
//!   Note ids derive from the transaction id as real ones do; memos have the size
//!   of real memos (all zero); the owner is a fresh key whose secret is dropped.
//! * **It is not a ledger.** A filler transaction's stored encoding starts with
//!   [`FILLER_ENCODING_PREFIX`], which is not a transaction encoding (real ones
//!   start with the encoding version, 1), and it has no range proof and no kernel
//!   signature. The journal replay of `cbdc audit` / `POST /v1/audit`
//!   ([`crate::audit::audit_store`]) therefore rejects a seeded database, naming
//!   the filler; only [`crate::audit::supply_audit_live`] passes on it. Use a
//!   seeded database for the scale benchmark and nothing else.
//!
//! Unlike the rest of the store, this module does cryptography (it computes the
//! filler's points and signs its blocks): it is a benchmark fixture, kept here
//! because it writes the tables directly, in bulk — `COPY` on PostgreSQL, multi-row
//! inserts on SQLite — rather than through [`Store::apply_batch`]'s per-row path.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use ledger_core::audit::ZeroBalanced;
use ledger_core::memo::MEMO_LEN;
use ledger_core::{NoteId, SecretKey, TxId};
use rand::rngs::OsRng;
use rand::RngCore;

use super::apply::{
    advance_head, insert_block, lock_head, BATCH_TRANSACTIONS_MAX, NOTES_PER_TRANSACTION_MAX,
};
use super::error::StoreError;
use super::schema::{blocks, events, kernels, notes, transactions};
use super::types::*;
use super::{AnyConnection, Store};

/// How every filler transaction's stored encoding begins. Its first byte (`c`)
/// is not the encoding version, so it never decodes as a transaction.
pub const FILLER_ENCODING_PREFIX: &[u8] = b"cbdc.scale-filler.v1\0";

/// Filler notes written by one call, at most (memory while writing: about 350
/// bytes a note, 650 with one note per transaction).
pub const FILLER_NOTES_MAX: u64 = 10_000_000;

/// Rows per multi-row `INSERT` on SQLite: 4,096 rows of at most 8 columns stay
/// under SQLite's 32,766 bound parameters (PostgreSQL uses `COPY`, which has no
/// such bound).
const SQLITE_ROWS_PER_INSERT: usize = 4_096;

/// Whether a stored transaction encoding is seeded filler.
pub fn is_filler_encoding(encoded: &[u8]) -> bool {
    encoded.starts_with(FILLER_ENCODING_PREFIX)
}

/// What [`seed_filler_notes`] wrote, and how long each part took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillerReport {
    /// Unspent notes added.
    pub notes: u64,
    /// Synthetic transactions (and kernels) added.
    pub transactions: u64,
    /// Heights of the first and last block added.
    pub heights: (u64, u64),
    /// Sequence numbers of the first and last `created` event added.
    pub event_seqs: (u64, u64),
    /// The fresh key that owns every filler note (its secret was never kept).
    pub owner: Bytes32,
    /// Computing the points, on every core.
    pub generating: Duration,
    /// The database transaction that wrote them.
    pub writing: Duration,
    /// `VACUUM (ANALYZE)` afterwards (PostgreSQL), so the planner knows the
    /// tables' new size and the first reader does not pay for hint bits.
    pub vacuuming: Duration,
}

/// One synthetic transaction: its id, stored encoding, kernel and notes.
#[derive(Debug, Clone)]
pub struct FillerTransaction {
    /// `TxId::of_bytes(encoded)`, as for a real transaction.
    pub id: Bytes32,
    /// [`FILLER_ENCODING_PREFIX`], the run, the index, the excess and the commitments.
    pub encoded: Vec<u8>,
    /// The kernel excess that balances the notes.
    pub excess: Bytes32,
    /// Note ids (`NoteId::derive(id, output index)`) and commitments, in output order.
    pub notes: Vec<(Bytes32, Bytes32)>,
}

/// Adds `count` filler notes to the ledger at `store`, in groups of
/// `notes_per_transaction` (1 ..= [`NOTES_PER_TRANSACTION_MAX`]) per synthetic
/// transaction and kernel, in blocks signed with `block_key` (the ledger's, so
/// the chain stays one chain). May run while the ledger serves: it commits
/// between two batches, which wait for it. See the module documentation for
/// what the result is good for (benchmarks only).
///
/// `notes_per_transaction` sets how many kernels the audit sums besides the
/// notes: 256 gives about one kernel per 256 notes; 1 gives one per note, the
/// shape of a ledger grown by one-output transactions.
pub fn seed_filler_notes(
    store: &Store,
    block_key: &SecretKey,
    count: u64,
    notes_per_transaction: usize,
) -> Result<FillerReport, StoreError> {
    seed_filler_notes_with_progress(store, block_key, count, notes_per_transaction, &|_| {})
}

/// Where [`seed_filler_notes_with_progress`] is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedStep {
    /// Computing the filler on every core: `done` of `total` notes so far
    /// (reported every [`PROGRESS_EVERY_TRANSACTIONS`] transactions per thread,
    /// and once at the end with `done == total`).
    Generating { done: u64, total: u64 },
    /// Writing one table (or sealing the blocks), all in the one database
    /// transaction; a bulk write has no finer progress.
    Writing { what: &'static str },
    /// `VACUUM (ANALYZE)` after the load (PostgreSQL only).
    Vacuuming,
}

/// How often a generating thread reports, in filler transactions.
pub const PROGRESS_EVERY_TRANSACTIONS: u64 = 256;

/// [`seed_filler_notes`], reporting each step to `progress` (called from the
/// generating threads too, hence `Sync`; it should return quickly).
pub fn seed_filler_notes_with_progress(
    store: &Store,
    block_key: &SecretKey,
    count: u64,
    notes_per_transaction: usize,
    progress: &(dyn Fn(SeedStep) + Sync),
) -> Result<FillerReport, StoreError> {
    if count == 0 || count > FILLER_NOTES_MAX {
        return Err(StoreError::OutOfRange {
            field: "filler notes",
        });
    }
    if !(1..=NOTES_PER_TRANSACTION_MAX).contains(&notes_per_transaction) {
        return Err(StoreError::OutOfRange {
            field: "filler notes per transaction",
        });
    }
    let owner = SecretKey::generate(&mut OsRng).public_key().to_bytes();
    let started = Instant::now();
    let transactions = generate(count, notes_per_transaction, progress);
    progress(SeedStep::Generating {
        done: count,
        total: count,
    });
    let generating = started.elapsed();
    let started = Instant::now();
    let (heights, event_seqs) = store.insert_filler_with_progress(
        &transactions,
        &owner,
        |draft| crate::ledger::seal(block_key, &draft).1,
        progress,
    )?;
    let writing = started.elapsed();
    let started = Instant::now();
    if store.backend() == super::Backend::Postgres {
        progress(SeedStep::Vacuuming);
    }
    store.vacuum_after_bulk_load()?;
    Ok(FillerReport {
        notes: count,
        transactions: u64::try_from(transactions.len()).unwrap_or(u64::MAX),
        heights,
        event_seqs,
        owner,
        generating,
        writing,
        vacuuming: started.elapsed(),
    })
}

/// Computes the filler transactions on every core: `count` notes, at most
/// `per_transaction` in each, in a deterministic order (transaction `j` is the
/// `j`-th whichever thread made it).
fn generate(
    count: u64,
    per_transaction: usize,
    progress: &(dyn Fn(SeedStep) + Sync),
) -> Vec<FillerTransaction> {
    let per_transaction_u64 = u64::try_from(per_transaction).expect("at most 256");
    let transactions = count.div_ceil(per_transaction_u64);
    let mut run = [0u8; 16];
    OsRng.fill_bytes(&mut run);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = u64::try_from(threads).unwrap_or(1).min(transactions);
    let share = transactions.div_ceil(threads);
    let generated = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let first = t * share;
                let last = ((t + 1) * share).min(transactions);
                let generated = &generated;
                scope.spawn(move || {
                    let mut rng = rand::thread_rng();
                    let mut unreported = 0;
                    (first..last)
                        .map(|index| {
                            let notes =
                                (count - index * per_transaction_u64).min(per_transaction_u64);
                            unreported += notes;
                            if (index - first + 1) % PROGRESS_EVERY_TRANSACTIONS == 0 {
                                let done = generated
                                    .fetch_add(unreported, std::sync::atomic::Ordering::Relaxed)
                                    + unreported;
                                unreported = 0;
                                progress(SeedStep::Generating { done, total: count });
                            }
                            let notes = usize::try_from(notes).expect("at most 256");
                            filler_transaction(&run, index, ZeroBalanced::random(notes, &mut rng))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("generating filler does not panic"))
            .collect()
    })
}

fn filler_transaction(run: &[u8; 16], index: u64, group: ZeroBalanced) -> FillerTransaction {
    let mut encoded = Vec::with_capacity(
        FILLER_ENCODING_PREFIX.len() + 16 + 8 + 32 * (group.commitments.len() + 1),
    );
    encoded.extend_from_slice(FILLER_ENCODING_PREFIX);
    encoded.extend_from_slice(run);
    encoded.extend_from_slice(&index.to_be_bytes());
    encoded.extend_from_slice(&group.excess);
    for commitment in &group.commitments {
        encoded.extend_from_slice(commitment);
    }
    let id = TxId::of_bytes(&encoded);
    let notes = group
        .commitments
        .iter()
        .enumerate()
        .map(|(output, commitment)| {
            let output = u32::try_from(output).expect("at most 256 outputs");
            (NoteId::derive(&id, output).0, *commitment)
        })
        .collect();
    FillerTransaction {
        id: id.0,
        encoded,
        excess: group.excess,
        notes,
    }
}

/// Inserts `rows` (a `Vec` of tuples of `column.eq(value)`) into `table`: one
/// `COPY ... FROM STDIN (FORMAT binary)` on PostgreSQL, multi-row inserts on SQLite.
macro_rules! insert_bulk {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            AnyConnection::Postgresql(pg) => {
                diesel::copy_from($table)
                    .from_insertable(&$rows)
                    .execute(pg)?;
            }
            AnyConnection::Sqlite(sqlite) => {
                for chunk in $rows.chunks(SQLITE_ROWS_PER_INSERT) {
                    diesel::insert_into($table).values(chunk).execute(sqlite)?;
                }
            }
        }
    };
}

impl Store {
    /// Writes filler transactions, their notes, kernels and `created` events
    /// (owned by `owner`) and the blocks that seal them (`seal` is called once per
    /// block, in height order), in one database transaction that locks
    /// `chain_head` first. Returns the heights of the first and last block and
    /// the sequence numbers of the first and last event written.
    ///
    /// The store checks nothing here: the caller made the filler balance.
    #[allow(clippy::type_complexity)]
    pub fn insert_filler(
        &self,
        filler: &[FillerTransaction],
        owner: &Bytes32,
        seal: impl FnMut(BlockDraft) -> SealedBlock,
    ) -> Result<((u64, u64), (u64, u64)), StoreError> {
        self.insert_filler_with_progress(filler, owner, seal, &|_| {})
    }

    /// [`Store::insert_filler`], reporting each table as its write starts.
    #[allow(clippy::type_complexity)]
    pub fn insert_filler_with_progress(
        &self,
        filler: &[FillerTransaction],
        owner: &Bytes32,
        mut seal: impl FnMut(BlockDraft) -> SealedBlock,
        progress: &(dyn Fn(SeedStep) + Sync),
    ) -> Result<((u64, u64), (u64, u64)), StoreError> {
        let notes_total = filler.iter().map(|tx| tx.notes.len()).sum::<usize>();
        if filler.is_empty() || notes_total == 0 {
            return Err(StoreError::OutOfRange {
                field: "filler notes",
            });
        }
        if filler
            .iter()
            .any(|tx| tx.notes.is_empty() || tx.notes.len() > NOTES_PER_TRANSACTION_MAX)
        {
            return Err(StoreError::OutOfRange {
                field: "filler notes per transaction",
            });
        }
        let memo = [0u8; MEMO_LEN];
        let mut conn = self.connection()?;
        conn.transaction(|conn| {
            let conn: &mut AnyConnection = conn;
            let checks_references_itself = skip_row_by_row_reference_checks(conn)?;
            let (first_height, tip_hash, first_seq) = lock_head(conn)?;

            // Where everything goes: block heights, indexes and event numbers.
            let height_of = |position: usize| -> Result<i64, StoreError> {
                i64::try_from(position / BATCH_TRANSACTIONS_MAX)
                    .ok()
                    .and_then(|offset| first_height.checked_add(offset))
                    .ok_or(StoreError::OutOfRange {
                        field: "chain height",
                    })
            };
            let mut transaction_rows = Vec::with_capacity(filler.len());
            let mut kernel_rows = Vec::with_capacity(filler.len());
            let mut placed_notes = Vec::with_capacity(notes_total);
            let mut event_rows = Vec::with_capacity(notes_total);
            let mut seq = first_seq;
            for (position, tx) in filler.iter().enumerate() {
                let index = i32::try_from(position % BATCH_TRANSACTIONS_MAX)
                    .expect("a block index below BATCH_TRANSACTIONS_MAX");
                transaction_rows.push((
                    transactions::id.eq(&tx.id[..]),
                    transactions::kind.eq(TxKind::Transfer.as_db()),
                    transactions::encoded.eq(&tx.encoded[..]),
                    transactions::block_height.eq(height_of(position)?),
                    transactions::block_index.eq(index),
                ));
                kernel_rows.push((
                    kernels::tx_id.eq(&tx.id[..]),
                    kernels::excess.eq(&tx.excess[..]),
                ));
                for (output, (note_id, commitment)) in tx.notes.iter().enumerate() {
                    let output = i32::try_from(output).expect("at most 256 outputs");
                    placed_notes.push((note_id, commitment, &tx.id, output, seq));
                    event_rows.push((
                        events::seq.eq(seq),
                        events::kind.eq(EventKind::Created.as_db()),
                        events::note_id.eq(&note_id[..]),
                        events::owner.eq(&owner[..]),
                        events::tx_id.eq(&tx.id[..]),
                    ));
                    seq = seq.checked_add(1).ok_or(StoreError::OutOfRange {
                        field: "event sequence",
                    })?;
                }
            }
            // Notes in id order: the two B-tree indexes on the id then grow at
            // their right edge instead of at random pages (the order of rows in
            // the table is not observable; `created_seq` keeps the output order).
            placed_notes.sort_unstable_by_key(|(note_id, ..)| *note_id);
            let note_rows: Vec<_> = placed_notes
                .into_iter()
                .map(|(note_id, commitment, tx_id, output, seq)| {
                    (
                        notes::id.eq(&note_id[..]),
                        notes::owner.eq(&owner[..]),
                        notes::commitment.eq(&commitment[..]),
                        notes::memo.eq(&memo[..]),
                        notes::created_by.eq(&tx_id[..]),
                        notes::output_index.eq(output),
                        notes::created_seq.eq(seq),
                    )
                })
                .collect();

            // Foreign keys: notes and kernels reference transactions, events
            // reference notes; transactions reference blocks, deferred.
            progress(SeedStep::Writing {
                what: "transactions",
            });
            insert_bulk!(&mut *conn, transactions::table, transaction_rows);
            progress(SeedStep::Writing { what: "notes" });
            insert_bulk!(&mut *conn, notes::table, note_rows);
            progress(SeedStep::Writing { what: "events" });
            insert_bulk!(&mut *conn, events::table, event_rows);
            progress(SeedStep::Writing { what: "kernels" });
            insert_bulk!(&mut *conn, kernels::table, kernel_rows);
            progress(SeedStep::Writing { what: "blocks" });

            let mut prev_hash = to_bytes32(&tip_hash, "chain tip hash")?;
            let mut height = first_height;
            for block in filler.chunks(BATCH_TRANSACTIONS_MAX) {
                let sealed = seal(BlockDraft {
                    height: from_db_i64(height, "chain height")?,
                    prev_hash,
                    transaction_ids: block.iter().map(|tx| tx.id).collect(),
                });
                let tx_count = i32::try_from(block.len()).expect("at most 8,192 per block");
                insert_block(conn, height, &prev_hash, &sealed, tx_count)?;
                prev_hash = sealed.hash;
                height = height.checked_add(1).ok_or(StoreError::OutOfRange {
                    field: "chain height",
                })?;
            }
            advance_head(conn, height, &prev_hash, seq)?;
            if checks_references_itself {
                check_references(conn, (first_height, height - 1), (first_seq, seq - 1))?;
            }
            Ok((
                (
                    from_db_i64(first_height, "chain height")?,
                    from_db_i64(height - 1, "chain height")?,
                ),
                (
                    from_db_i64(first_seq, "event seq")?,
                    from_db_i64(seq - 1, "event seq")?,
                ),
            ))
        })
    }

    /// After a bulk load on PostgreSQL: `VACUUM (ANALYZE)` the tables it grew,
    /// so the planner sees their size (the audit's paging by note id must use the
    /// index) and readers do not each set hint bits on a million fresh rows, as
    /// autovacuum would have done by the time a real ledger had grown that large.
    /// Nothing on SQLite.
    fn vacuum_after_bulk_load(&self) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        if let AnyConnection::Postgresql(pg) = &mut *conn {
            pg.batch_execute(&format!("VACUUM (ANALYZE) {GROWN_TABLES}"))?;
        }
        Ok(())
    }
}

/// The tables a filler load grows.
const GROWN_TABLES: &str = "notes, events, transactions, kernels, blocks";

/// On PostgreSQL as a superuser, turns off the row-by-row foreign-key triggers
/// for this database transaction (`session_replication_role = replica`): they
/// are 60% of the load's cost, one query per note and two per event. Returns
/// whether it did; the caller must then [`check_references`] before committing.
/// Elsewhere the triggers (SQLite: the foreign-key checks) stay on.
fn skip_row_by_row_reference_checks(conn: &mut AnyConnection) -> Result<bool, StoreError> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(false);
    };
    let superuser = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('is_superuser')",
    ))
    .get_result::<String>(pg)?;
    if superuser != "on" {
        return Ok(false);
    }
    pg.batch_execute("SET LOCAL session_replication_role = replica")?;
    Ok(true)
}

/// Checks every foreign key of the rows a filler load wrote — blocks
/// `heights`, events and notes `seqs`, all kernels — with one anti-join per key
/// instead of one query per row, and fails the load if any reference dangles.
fn check_references(
    conn: &mut AnyConnection,
    heights: (i64, i64),
    seqs: (i64, i64),
) -> Result<(), StoreError> {
    use diesel::dsl::{exists, not};
    // Fresh statistics first (the tables were far smaller when last analysed), so
    // the anti-joins hash instead of probing an index a million times.
    conn.batch_execute(&format!(
        "SET LOCAL work_mem = '256MB'; ANALYZE {GROWN_TABLES}"
    ))?;
    let dangling = [
        notes::table
            .filter(notes::created_seq.between(seqs.0, seqs.1))
            .filter(not(exists(
                transactions::table.filter(transactions::id.eq(notes::created_by)),
            )))
            .count()
            .get_result::<i64>(conn)?,
        events::table
            .filter(events::seq.between(seqs.0, seqs.1))
            .filter(not(exists(
                notes::table.filter(notes::id.eq(events::note_id)),
            )))
            .count()
            .get_result::<i64>(conn)?,
        events::table
            .filter(events::seq.between(seqs.0, seqs.1))
            .filter(not(exists(
                transactions::table.filter(transactions::id.eq(events::tx_id)),
            )))
            .count()
            .get_result::<i64>(conn)?,
        kernels::table
            .filter(not(exists(
                transactions::table.filter(transactions::id.eq(kernels::tx_id)),
            )))
            .count()
            .get_result::<i64>(conn)?,
        transactions::table
            .filter(transactions::block_height.between(heights.0, heights.1))
            .filter(not(exists(
                blocks::table.filter(blocks::height.eq(transactions::block_height)),
            )))
            .count()
            .get_result::<i64>(conn)?,
    ];
    if dangling.iter().any(|&count| count != 0) {
        return Err(StoreError::Corrupt(
            "filler rows reference rows that do not exist",
        ));
    }
    Ok(())
}
