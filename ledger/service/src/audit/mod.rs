//! `cbdc audit`: check the journal and the supply, from a database or an export.
//!
//! The audit trusts nothing but the ledger's public key. It replays the journal
//! block by block: each header must follow the previous one (height, hash chain),
//! carry a valid signature by the ledger key, and its Merkle root must be the root
//! of the ids of the transactions it lists, where each id is recomputed by hashing
//! the stored encoding. Replaying the transactions in order rebuilds the set of
//! unspent notes (a note spent twice, or spent before it exists, fails the audit),
//! then the supply equation ([`ledger_core::audit`]) must hold over the replayed
//! state. From a database it additionally checks the equation over the live tables,
//! so tables that drifted from the journal are caught too, and that every block's
//! columns repeat its signed header. An export written with the block key carries
//! a signed tip (block count, last hash, time): cut short, it fails; without a tip
//! it can only show a valid history as far as it goes.
//!
//! [`supply_audit_live`] is that last part alone: the equation over one consistent
//! snapshot of the live tables, without the journal. It is what scales: the
//! snapshot is read page by page while every core decompresses and sums the pages
//! already read, so memory stays bounded and reading overlaps summing.

mod replay;
mod tables;

pub use replay::{AuditOptions, Expectation, SourceBlock, SourceTransaction};

use crate::store::{AuditOutcome, Kernel, Store, StoreError, SupplySnapshot, UnspentCommitment};
use ledger_core::journal::BlockHeader;
use ledger_core::verify::Rejection;
use ledger_core::{Amount, NoteId, PublicKey, Purpose, SecretKey, Signature, SupplyAudit, TxId};
use replay::Replayed;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};

/// Unspent notes, or kernels, read per page of the live audit.
const PAGE_ROWS: usize = 16_384;
/// Pages read but not yet taken by a summing thread, at most. With the pages the
/// threads hold, this bounds the live audit's memory to about
/// `(PAGES_AHEAD_MAX + cores) × PAGE_ROWS × 100 bytes` whatever the ledger's size.
const PAGES_AHEAD_MAX: usize = 4;

/// One block of an export: its header, signature and transactions in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportBlock {
    /// The 85-byte header, hex.
    pub header: String,
    /// The ledger's signature, hex.
    pub signature: String,
    /// The canonical encodings of the block's transactions, hex, in order.
    pub transactions: Vec<String>,
}

/// A ledger export: everything the audit needs, nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Export {
    /// The ledger's block-signing public key, hex.
    pub ledger_key: String,
    pub blocks: Vec<ExportBlock>,
    /// The ledger's signed statement of where the chain ended when the export
    /// was written. Every block is signed, so without it an export cut after
    /// any block is a valid, shorter history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<ExportTip>,
}

/// Signed by the ledger's block key when an export is written: how many blocks
/// the chain had, the hash of the last, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportTip {
    pub blocks: u64,
    /// The last block's hash, hex (all zero for an empty chain).
    pub last_hash: String,
    pub time_ms: u64,
    /// The ledger's signature over [`tip_digest`], hex.
    pub signature: String,
}

/// What an export tip's signature covers. Its own domain label keeps it apart
/// from the block headers the same key signs.
pub fn tip_digest(blocks: u64, last_hash: &[u8; 32], time_ms: u64) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"cbdc.export.tip.v1")
        .chain_update(blocks.to_be_bytes())
        .chain_update(last_hash)
        .chain_update(time_ms.to_be_bytes())
        .finalize()
        .into()
}

/// What a full audit proved.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditReport {
    pub blocks: u64,
    pub transactions: u64,
    pub unspent_notes: u64,
    /// Everything ever issued (128-bit, as a decimal string in JSON).
    #[serde(serialize_with = "decimal")]
    pub issued: u128,
    /// Everything ever redeemed (128-bit, as a decimal string in JSON).
    #[serde(serialize_with = "decimal")]
    pub redeemed: u128,
    pub outstanding: Amount,
    /// The last block covered, `None` for an empty journal.
    pub height: Option<u64>,
    /// Its hash, hex (all zero for an empty journal).
    pub last_hash: String,
    /// The supply ceiling fixed at genesis.
    pub supply_ceiling: Amount,
}

fn decimal<S: serde::Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string())
}

impl AuditReport {
    /// The report as the store records a passed audit run.
    pub fn outcome(&self) -> AuditOutcome {
        AuditOutcome {
            height: self.height,
            block_hash: self.height.and_then(|_| hex_32(&self.last_hash).ok()),
            blocks: self.blocks,
            transactions: self.transactions,
            unspent_notes: self.unspent_notes,
            issued: self.issued,
            redeemed: self.redeemed,
            outstanding: self.outstanding.minor_units(),
            problem: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditFailure {
    #[error("block {height}: {problem}")]
    Block { height: u64, problem: String },
    /// A transaction admission would refuse: named by block, position, id and code.
    #[error(
        "block {height}: transaction {tx} (index {index}) would be refused by admission: {code}: {rejection}",
        code = rejection.code()
    )]
    Rejected {
        height: u64,
        index: u32,
        tx: TxId,
        rejection: Rejection,
    },
    /// A journal error (its message names the block).
    #[error(transparent)]
    Journal(#[from] ledger_core::JournalError),
    #[error("supply: {0}")]
    Supply(String),
    #[error("the live tables disagree with the journal: {0}")]
    Tables(String),
    #[error("rollback or fork: {0}")]
    Rollback(String),
    #[error("malformed export: {0}")]
    Export(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuditFailure {
    /// The rejection code, for a transaction admission would refuse.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            AuditFailure::Rejected { rejection, .. } => Some(rejection.code()),
            _ => None,
        }
    }
}

fn block_failure(height: u64, problem: impl ToString) -> AuditFailure {
    AuditFailure::Block {
        height,
        problem: problem.to_string(),
    }
}

/// A signature's 64 bytes as a signature, if they are one.
pub(crate) fn signature_from(bytes: &[u8]) -> Option<Signature> {
    <[u8; 64]>::try_from(bytes)
        .ok()
        .and_then(|bytes| Signature::from_bytes(&bytes).ok())
}

/// The supply equation over the replayed state, and the report.
fn report_of(replayed: &Replayed) -> Result<AuditReport, AuditFailure> {
    let mut audit = replayed.supply.clone();
    let mut unspent = 0u64;
    for note in replayed.notes.values().filter(|n| n.spent.is_none()) {
        audit
            .add_unspent_bytes(&note.commitment)
            .map_err(|e| AuditFailure::Supply(e.to_string()))?;
        unspent += 1;
    }
    let supply = audit
        .finish()
        .map_err(|e| AuditFailure::Supply(e.to_string()))?;
    Ok(AuditReport {
        blocks: replayed.blocks,
        transactions: replayed.transactions,
        unspent_notes: unspent,
        issued: supply.issued,
        redeemed: supply.redeemed,
        outstanding: supply.outstanding,
        height: replayed.last.map(|h| h.height),
        last_hash: hex::encode(replayed.last.map_or([0u8; 32], |h| h.hash())),
        supply_ceiling: replayed
            .governance
            .as_ref()
            .map_or(Amount::ZERO, |g| g.supply_ceiling),
    })
}

/// Reads the journal from a snapshot, a page of blocks at a time, each block
/// with its stored transactions, checking that the block's columns repeat its
/// signed header and that its transactions sit at indexes 0, 1, ….
struct SnapshotJournal<'s, 'c> {
    snapshot: &'s mut SupplySnapshot<'c>,
    next_height: u64,
    buffered: std::collections::VecDeque<SourceBlock>,
    done: bool,
}

/// Blocks read from the database per page.
const BLOCKS_PER_PAGE: u32 = 256;

impl<'s, 'c> SnapshotJournal<'s, 'c> {
    fn new(snapshot: &'s mut SupplySnapshot<'c>) -> Self {
        SnapshotJournal {
            snapshot,
            next_height: 0,
            buffered: Default::default(),
            done: false,
        }
    }

    fn next_block(&mut self) -> Result<Option<SourceBlock>, AuditFailure> {
        if self.buffered.is_empty() && !self.done {
            self.fill()?;
        }
        Ok(self.buffered.pop_front())
    }

    fn fill(&mut self) -> Result<(), AuditFailure> {
        let blocks = self
            .snapshot
            .blocks_from(self.next_height, BLOCKS_PER_PAGE)?;
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
            self.done = true;
            return Ok(());
        };
        let (first_height, last_height) = (first.height, last.height);
        let mut transactions = self
            .snapshot
            .transactions_of_blocks(first_height, last_height)?
            .into_iter()
            .peekable();
        for block in blocks {
            if block.height != self.next_height {
                return Err(block_failure(
                    self.next_height,
                    format!("missing: the next stored block has height {}", block.height),
                ));
            }
            let mut listed = Vec::new();
            while let Some(tx) = transactions.next_if(|tx| tx.location.height == block.height) {
                let index = u32::try_from(listed.len()).unwrap_or(u32::MAX);
                if tx.location.index != index {
                    return Err(AuditFailure::Tables(format!(
                        "transactions {}: column block_index is {}, its place in block {} is {index}",
                        TxId(tx.id),
                        tx.location.index,
                        block.height
                    )));
                }
                listed.push(SourceTransaction {
                    encoded: tx.encoded,
                    stored_kind: Some(tx.kind),
                });
            }
            self.buffered.push_back(SourceBlock {
                header: block.sealed.header.clone(),
                signature: block.sealed.signature.clone(),
                stored: Some(block),
                transactions: listed,
            });
            self.next_height += 1;
        }
        if let Some(stray) = transactions.next() {
            return Err(AuditFailure::Tables(format!(
                "transactions {}: listed in block {} out of order",
                TxId(stray.id),
                stray.location.height
            )));
        }
        Ok(())
    }
}

/// A stored block's columns (height, hashes, root, time, count) repeat what its
/// signed header says, for readers that do not parse headers: they must agree,
/// or a reader of the columns is told something the ledger never signed.
/// (Whether the header itself is signed and chained is the replay's check.)
pub(super) fn columns_agree_with_header(
    block: &crate::store::StoredBlock,
    header: &BlockHeader,
) -> Result<(), AuditFailure> {
    let disagreeing = [
        ("height", header.height == block.height),
        ("prev_hash", header.prev_hash == block.prev_hash),
        ("hash", header.hash() == block.sealed.hash),
        (
            "merkle_root",
            header.merkle_root == block.sealed.merkle_root,
        ),
        ("time_unix_ms", header.time_ms == block.sealed.time_unix_ms),
        ("tx_count", header.tx_count == block.tx_count),
    ]
    .into_iter()
    .filter(|(_, agrees)| !agrees)
    .map(|(column, _)| column)
    .collect::<Vec<_>>();
    if disagreeing.is_empty() {
        Ok(())
    } else {
        Err(block_failure(
            block.height,
            format!(
                "blocks {}: column(s) {} disagree with the signed header",
                block.height,
                disagreeing.join(", ")
            ),
        ))
    }
}

/// Audits a database, all in one consistent snapshot: the journal replayed and
/// every transaction re-verified ([`replay`]), the supply equation over the
/// replayed state, then every derived table compared with the replay
/// ([`tables`]).
pub fn audit_store(
    store: &Store,
    ledger: PublicKey,
    options: &AuditOptions,
) -> Result<AuditReport, AuditFailure> {
    store.supply_snapshot(|snapshot| Ok(audit_snapshot(snapshot, ledger, options)))?
}

fn audit_snapshot(
    snapshot: &mut SupplySnapshot<'_>,
    ledger: PublicKey,
    options: &AuditOptions,
) -> Result<AuditReport, AuditFailure> {
    let mut journal = SnapshotJournal::new(snapshot);
    let replayed = replay::replay(ledger, options, || journal.next_block())?;
    let report = report_of(&replayed)?;
    tables::compare(journal.snapshot, &replayed)?;
    Ok(report)
}

/// The supply equation over the live tables, as of one consistent snapshot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveSupply {
    /// The last block in the snapshot, `None` before the first.
    pub height: Option<u64>,
    pub unspent_notes: u64,
    pub kernels: u64,
    #[serde(serialize_with = "decimal")]
    pub issued: u128,
    #[serde(serialize_with = "decimal")]
    pub redeemed: u128,
    pub outstanding: Amount,
}

/// Checks `Σ unspent C + Σ kernel E = S·B + (Σ issue r)·B̃` over one consistent
/// snapshot of the live tables (every commitment and excess must be a valid
/// point) and reports `S`. Unlike [`audit_store`] it does not replay the journal:
/// it proves the tables hold no more money than was issued, not that they are
/// what the signed journal says.
pub fn supply_audit_live(store: &Store) -> Result<LiveSupply, AuditFailure> {
    let live = sum_live_tables(store)?;
    let supply = live
        .audit
        .finish()
        .map_err(|e| AuditFailure::Supply(e.to_string()))?;
    Ok(LiveSupply {
        height: live.height,
        unspent_notes: supply.unspent_notes,
        kernels: live.kernels,
        issued: supply.issued,
        redeemed: supply.redeemed,
        outstanding: supply.outstanding,
    })
}

/// The live tables summed, before the equation is checked.
struct LiveSums {
    height: Option<u64>,
    kernels: u64,
    audit: SupplyAudit,
}

/// What the reader hands the summing threads.
enum Page {
    Unspent(Vec<UnspentCommitment>),
    Kernels(Vec<Kernel>),
}

/// A summing thread's share: its partial audit (which counts the notes) and
/// how many kernels it added.
#[derive(Default)]
struct Share {
    audit: SupplyAudit,
    kernels: u64,
}

/// Reads one consistent snapshot of the live tables and sums it: this thread
/// reads pages of unspent notes and kernels (in id order, through
/// [`SupplySnapshot`](crate::store::SupplySnapshot)), one thread per core takes
/// them as they come, and decompresses and adds
/// every point. The pages in flight are bounded ([`PAGES_AHEAD_MAX`]); the first
/// failure stops the reading.
///
/// Decompressing is the cost (about 4 µs a point, 85% of the time): with the
/// reading overlapped, the audit takes about `points × 4 µs / cores`. One reading
/// connection keeps up with two cores' summing; the snapshot could not be shared
/// by a second one without exporting it (`pg_export_snapshot`).
fn sum_live_tables(store: &Store) -> Result<LiveSums, AuditFailure> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let page_rows = u32::try_from(PAGE_ROWS).expect("a page fits in u32");
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (pages, taken) = crossbeam_channel::bounded::<Page>(PAGES_AHEAD_MAX);
        let summers: Vec<_> = (0..threads)
            .map(|_| {
                let taken = taken.clone();
                let failed = &failed;
                scope.spawn(move || {
                    let share = sum_pages(&taken);
                    if share.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    share
                })
            })
            .collect();
        drop(taken);
        // `None`: stopped early because a summing thread failed (its error is
        // the one to report).
        let read = store.supply_snapshot(|snapshot| {
            let height = snapshot.height()?;
            let mut after = None;
            loop {
                if failed.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let page = snapshot.unspent_commitments(after.as_ref(), page_rows)?;
                let full = page.len() == PAGE_ROWS;
                let Some(last) = page.last() else { break };
                after = Some(last.note_id);
                if pages.send(Page::Unspent(page)).is_err() {
                    return Ok(None);
                }
                if !full {
                    break;
                }
            }
            let mut kernels = Vec::with_capacity(PAGE_ROWS);
            let mut stopped = false;
            snapshot.for_each_kernel(page_rows, |kernel| {
                if stopped {
                    return;
                }
                kernels.push(kernel);
                if kernels.len() == PAGE_ROWS {
                    let page = std::mem::replace(&mut kernels, Vec::with_capacity(PAGE_ROWS));
                    stopped = pages.send(Page::Kernels(page)).is_err();
                }
            })?;
            if stopped || (!kernels.is_empty() && pages.send(Page::Kernels(kernels)).is_err()) {
                return Ok(None);
            }
            let mut audit = SupplyAudit::new();
            for issuance in snapshot.issuances()? {
                let blinding = ledger_core::tx::PublicBlinding::from_bytes(&issuance.blinding)
                    .map_err(|_| StoreError::Corrupt("issuance blinding"))?;
                audit.add_issued(Amount::new(issuance.amount), &blinding);
            }
            audit.add_redemption(Amount::new(snapshot.total_redeemed()?));
            Ok(Some((height, audit)))
        });
        // Closing the channel lets the summing threads finish.
        drop(pages);
        let shares: Vec<_> = summers
            .into_iter()
            .map(|summer| summer.join().expect("summing points does not panic"))
            .collect();
        let shares = shares.into_iter().collect::<Result<Vec<_>, _>>()?;
        let Some((height, mut audit)) = read? else {
            // The reader stops early only once a summing thread failed.
            return Err(AuditFailure::Supply(
                "the audit stopped without a cause".into(),
            ));
        };
        let mut kernels = 0u64;
        for share in shares {
            audit = audit.merge(share.audit);
            kernels += share.kernels;
        }
        Ok(LiveSums {
            height,
            kernels,
            audit,
        })
    })
}

/// One summing thread: takes pages until the reader closes the channel, or until
/// the first failure.
fn sum_pages(pages: &crossbeam_channel::Receiver<Page>) -> Result<Share, AuditFailure> {
    let mut share = Share::default();
    for page in pages {
        match page {
            Page::Unspent(notes) => {
                for note in &notes {
                    share
                        .audit
                        .add_unspent_bytes(&note.commitment)
                        .map_err(|e| {
                            AuditFailure::Supply(format!(
                                "unspent note {}: {e}",
                                NoteId(note.note_id)
                            ))
                        })?;
                }
            }
            Page::Kernels(kernels) => {
                for kernel in &kernels {
                    share.audit.add_kernel_bytes(&kernel.excess).map_err(|e| {
                        AuditFailure::Supply(format!(
                            "kernel of transaction {}: {e}",
                            TxId(kernel.tx_id)
                        ))
                    })?;
                }
                share.kernels += u64::try_from(kernels.len()).unwrap_or(u64::MAX);
            }
        }
    }
    Ok(share)
}

/// Writes everything an auditor needs.
///
/// With the ledger's block key as `signer`, the export carries a signed tip
/// (see [`ExportTip`]), so an audit notices blocks cut off its end.
pub fn export_store(
    store: &Store,
    ledger: PublicKey,
    signer: Option<&SecretKey>,
) -> Result<Export, AuditFailure> {
    if signer.is_some_and(|key| key.public_key() != ledger) {
        return Err(AuditFailure::Export(
            "the block key given is not this ledger's key".into(),
        ));
    }
    let mut blocks = Vec::new();
    let mut last = None;
    store.supply_snapshot(|snapshot| {
        let mut journal = SnapshotJournal::new(snapshot);
        Ok((|| {
            while let Some(block) = journal.next_block()? {
                let header = BlockHeader::from_bytes(&block.header)
                    .map_err(|e| block_failure(journal.next_height, e))?;
                blocks.push(ExportBlock {
                    header: hex::encode(&block.header),
                    signature: hex::encode(&block.signature),
                    transactions: block
                        .transactions
                        .iter()
                        .map(|t| hex::encode(&t.encoded))
                        .collect(),
                });
                last = Some((header, block.signature));
            }
            Ok::<(), AuditFailure>(())
        })())
    })??;
    // A tip vouches for the blocks before it: its key must be theirs.
    if let (Some(_), Some((header, signature))) = (signer, &last) {
        let signed = signature_from(signature)
            .is_some_and(|signature| header.verify_signature(&ledger, &signature).is_ok());
        if !signed {
            return Err(AuditFailure::Export(
                "the block key given did not sign this ledger's blocks".into(),
            ));
        }
    }
    let last_hash = last.map_or([0u8; 32], |(header, _)| header.hash());
    let tip = signer.map(|key| {
        let count = u64::try_from(blocks.len()).unwrap_or(u64::MAX);
        let time_ms = crate::ledger::now_ms();
        let signature = key.sign(
            Purpose::Block,
            &tip_digest(count, &last_hash, time_ms),
            &mut rand::rngs::OsRng,
        );
        ExportTip {
            blocks: count,
            last_hash: hex::encode(last_hash),
            time_ms,
            signature: hex::encode(signature.to_bytes()),
        }
    });
    Ok(Export {
        ledger_key: hex::encode(ledger.as_bytes()),
        blocks,
        tip,
    })
}

/// Audits an export file's contents: the same replay and re-verification as
/// [`audit_store`] (an export has no derived tables to compare).
pub fn audit_export(export: &Export, options: &AuditOptions) -> Result<AuditReport, AuditFailure> {
    let key = hex_32(&export.ledger_key).map_err(AuditFailure::Export)?;
    let ledger = PublicKey::from_bytes(&key)
        .map_err(|e| AuditFailure::Export(format!("ledger key: {e}")))?;
    let mut blocks = export.blocks.iter().enumerate();
    let replayed = replay::replay(ledger, options, || {
        let Some((height, block)) = blocks.next() else {
            return Ok(None);
        };
        let height = u64::try_from(height).unwrap_or(u64::MAX);
        let decode = |text: &str| {
            hex::decode(text).map_err(|e| block_failure(height, format!("bad hex: {e}")))
        };
        Ok(Some(SourceBlock {
            header: decode(&block.header)?,
            signature: decode(&block.signature)?,
            stored: None,
            transactions: block
                .transactions
                .iter()
                .map(|t| {
                    Ok(SourceTransaction {
                        encoded: decode(t)?,
                        stored_kind: None,
                    })
                })
                .collect::<Result<Vec<_>, AuditFailure>>()?,
        }))
    })?;
    let last_hash = replayed.last.map_or([0u8; 32], |h| h.hash());
    if let Some(tip) = &export.tip {
        check_tip(tip, &ledger, export.blocks.len(), &last_hash)?;
    }
    report_of(&replayed)
}

/// The tip must be the ledger's signature over exactly this export's end.
fn check_tip(
    tip: &ExportTip,
    ledger: &PublicKey,
    blocks: usize,
    last_hash: &[u8; 32],
) -> Result<(), AuditFailure> {
    let tip_hash = hex_32(&tip.last_hash).map_err(|e| AuditFailure::Export(format!("tip: {e}")))?;
    let signature = hex::decode(&tip.signature)
        .ok()
        .and_then(|bytes| signature_from(&bytes))
        .ok_or_else(|| AuditFailure::Export("tip: malformed signature".into()))?;
    ledger
        .verify(
            Purpose::Block,
            &tip_digest(tip.blocks, &tip_hash, tip.time_ms),
            &signature,
        )
        .map_err(|_| {
            AuditFailure::Export("the tip's signature does not verify with the ledger key".into())
        })?;
    if u64::try_from(blocks).ok() != Some(tip.blocks) || &tip_hash != last_hash {
        return Err(AuditFailure::Export(format!(
            "the signed tip counts {} block(s) ending in {}; the export holds {} ending in {}",
            tip.blocks,
            tip.last_hash,
            blocks,
            hex::encode(last_hash)
        )));
    }
    Ok(())
}

fn hex_32(text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|e| format!("bad hex: {e}"))?;
    Ok(out)
}
