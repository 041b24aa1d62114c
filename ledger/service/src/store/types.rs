//! The store's vocabulary: what goes in ([`NewTransaction`]), what comes out
//! ([`ApplyOutcome`], [`StoredNote`], ...), and the checked conversions between
//! domain integers (`u64`, `u32`) and the database's signed columns.
//!
//! Everything here is plain bytes and integers: the store never interprets a
//! commitment, key or signature; the caller has verified them already.

use super::error::StoreError;

/// A 32-byte identifier or public value (transaction id, note id, key, point).
pub type Bytes32 = [u8; 32];

/// Kinds of transaction that change the set of notes (see DESIGN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// Notes created by the central bank: no inputs, public amount and blinding.
    Issue,
    /// Notes spent and created, value hidden; balanced by a kernel.
    Transfer,
    /// Notes spent, change created, a public amount burned; balanced by a kernel.
    Redeem,
    /// A change to who may act (or the threshold); no notes.
    Governance,
}

impl TxKind {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            TxKind::Issue => "issue",
            TxKind::Transfer => "transfer",
            TxKind::Redeem => "redeem",
            TxKind::Governance => "governance",
        }
    }

    /// Its name, as in the `transactions.kind` column.
    pub fn as_str(self) -> &'static str {
        self.as_db()
    }

    pub(crate) fn from_db(text: &str) -> Result<Self, StoreError> {
        match text {
            "issue" => Ok(TxKind::Issue),
            "transfer" => Ok(TxKind::Transfer),
            "redeem" => Ok(TxKind::Redeem),
            "governance" => Ok(TxKind::Governance),
            _ => Err(StoreError::Corrupt("transaction kind")),
        }
    }
}

/// An output note of a verified transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNote {
    /// Hash of the creating transaction id and the output index.
    pub id: Bytes32,
    /// The recipient's spend public key.
    pub owner: Bytes32,
    /// Pedersen commitment to the amount, compressed.
    pub commitment: Bytes32,
    /// Opening encrypted to the recipient's view key; opaque to the ledger.
    pub memo: Vec<u8>,
}

/// Identifier of an issuance proposal (chosen by the caller, e.g. random).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProposalId(pub [u8; 16]);

/// A transaction the caller has fully verified, ready to be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTransaction {
    /// The transaction id (a hash of `encoded`); the idempotency key.
    pub id: Bytes32,
    /// Issue, transfer or redeem.
    pub kind: TxKind,
    /// The canonical binary encoding, stored verbatim.
    pub encoded: Vec<u8>,
    /// Ids of the notes spent, in transaction order.
    pub inputs: Vec<Bytes32>,
    /// Notes created, in output order (the position is the output index).
    pub outputs: Vec<NewNote>,
    /// The kernel excess `E` (transfer and redeem only).
    pub kernel_excess: Option<Bytes32>,
    /// Issued amount and the published blinding (issue only).
    pub issued: Option<(u64, Bytes32)>,
    /// Burned amount (redeem only).
    pub burned: Option<u64>,
    /// The approved proposal this issue executes, marked executed atomically
    /// with the apply (issue only).
    pub executes_proposal: Option<ProposalId>,
    /// What a governance entry changes in `participants` and `chain_head`
    /// (governance only).
    pub governance: Option<GovernanceChange>,
}

/// A participant as a governance entry admits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMember {
    /// Stable identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Officer or bank.
    pub role: super::Role,
    /// Signing / spend public key.
    pub spend_public_key: Bytes32,
    /// A bank's view public key.
    pub view_public_key: Option<Bytes32>,
}

/// The rows a verified governance entry changes, written with its block (the
/// admission time is the block's time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GovernanceChange {
    /// The first entry: the officers, the threshold and the supply ceiling.
    Genesis {
        /// Issuance and officer-governance threshold.
        threshold: u32,
        /// Most money that may be outstanding, ever.
        supply_ceiling: u64,
        /// The first officers.
        officers: Vec<NewMember>,
    },
    /// A new participant, active.
    Admit(NewMember),
    /// Suspend or reinstate.
    SetStatus {
        /// The participant.
        id: String,
        /// Its new status.
        status: super::ParticipantStatus,
    },
    /// New keys for a participant.
    Rekey {
        /// The participant.
        id: String,
        /// New signing / spend key.
        spend_public_key: Bytes32,
        /// New view key (banks).
        view_public_key: Option<Bytes32>,
    },
    /// A new threshold.
    SetThreshold(u32),
}

/// Where a committed transaction sits: the block and its position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxLocation {
    /// Height of the block that holds the transaction.
    pub height: u64,
    /// Position of the transaction in the block's list.
    pub index: u32,
}

/// What happened to one transaction of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Committed at this location.
    Accepted(TxLocation),
    /// The same id was committed before (or earlier in this batch): its receipt.
    Duplicate(TxLocation),
    /// Not applied; nothing of it was written.
    Rejected(Rejection),
}

/// Why a transaction of a batch was not applied. Checked in this order; the
/// first failing check names the rejection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The transaction's fields do not fit its kind (a caller bug).
    Malformed(Malformation),
    /// An amount does not fit the database's signed 64-bit column.
    AmountOutOfRange,
    /// An input is not a note of the ledger.
    UnknownInput(Bytes32),
    /// An input was already spent (perhaps earlier in the same batch).
    DoubleSpend(Bytes32),
    /// An output's id is already a note of the ledger.
    OutputExists(Bytes32),
    /// The proposal is unknown, not open, or for another amount.
    ProposalNotExecutable(ProposalId),
    /// The issue would take the outstanding supply above the ceiling.
    SupplyCeiling,
    /// A genesis entry anywhere but alone at height 0, or a first block
    /// without one.
    GenesisMisplaced,
}

/// How a [`NewTransaction`]'s fields contradict its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformation {
    /// An issue spends notes.
    IssueWithInputs,
    /// An issue lacks its amount and blinding.
    IssueWithoutAmount,
    /// A transfer or redeem spends no notes.
    NoInputs,
    /// A transfer or redeem lacks its kernel excess.
    NoKernel,
    /// An issue carries a kernel.
    UnexpectedKernel,
    /// A transfer or redeem carries an issued amount.
    UnexpectedIssue,
    /// A redeem lacks its burned amount.
    RedeemWithoutAmount,
    /// An issue or transfer carries a burned amount.
    UnexpectedBurn,
    /// A transfer or redeem claims to execute a proposal.
    UnexpectedProposal,
    /// An issue or transfer creates no notes.
    NoOutputs,
    /// More outputs or inputs than [`NOTES_PER_TRANSACTION_MAX`](super::NOTES_PER_TRANSACTION_MAX).
    TooManyNotes,
    /// Two outputs share an id.
    DuplicateOutput,
    /// A governance entry carries notes, amounts, a kernel or a proposal.
    GovernanceWithMoney,
    /// A governance entry lacks its change, or another kind carries one.
    GovernanceChange,
}

/// What the block sealer is given: everything it needs to build and sign the
/// header. The caller computes the Merkle root, hash and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDraft {
    /// Height of the new block; the first block has height 0.
    pub height: u64,
    /// Hash of the previous block; all zero for the first block.
    pub prev_hash: Bytes32,
    /// Ids of the accepted transactions, in block order.
    pub transaction_ids: Vec<Bytes32>,
}

/// A block as sealed by the caller, stored verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBlock {
    /// The canonical encoding of the header.
    pub header: Vec<u8>,
    /// The header's hash; the next block's `prev_hash`.
    pub hash: Bytes32,
    /// Merkle root over the transaction ids.
    pub merkle_root: Bytes32,
    /// Sealing time, milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The central bank's signature over the header.
    pub signature: Vec<u8>,
}

/// A stored block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    /// Height in the chain.
    pub height: u64,
    /// The previous block's hash (all zero for height 0).
    pub prev_hash: Bytes32,
    /// The sealed block as given by the caller.
    pub sealed: SealedBlock,
    /// Number of transactions in the block.
    pub tx_count: u32,
}

/// A stored transaction and where it was committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTransaction {
    /// Transaction id.
    pub id: Bytes32,
    /// Issue, transfer or redeem.
    pub kind: TxKind,
    /// The canonical encoding as submitted.
    pub encoded: Vec<u8>,
    /// Block and index: with the block's transaction ids, a receipt.
    pub location: TxLocation,
}

/// A spend of a note: by which transaction, at which event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spend {
    /// The spending transaction.
    pub tx_id: Bytes32,
    /// Sequence number of the `spent` event.
    pub seq: u64,
}

/// A note of the ledger, spent or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNote {
    /// Note id.
    pub id: Bytes32,
    /// Owner's spend public key.
    pub owner: Bytes32,
    /// Amount commitment.
    pub commitment: Bytes32,
    /// Encrypted opening.
    pub memo: Vec<u8>,
    /// The creating transaction.
    pub created_by: Bytes32,
    /// Output index in the creating transaction.
    pub output_index: u32,
    /// Sequence number of the `created` event.
    pub created_seq: u64,
    /// Set once the note is spent.
    pub spent: Option<Spend>,
}

/// What an event reports about a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The note was created.
    Created,
    /// The note was spent.
    Spent,
}

impl EventKind {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Spent => "spent",
        }
    }

    pub(crate) fn from_db(text: &str) -> Result<Self, StoreError> {
        match text {
            "created" => Ok(EventKind::Created),
            "spent" => Ok(EventKind::Spent),
            _ => Err(StoreError::Corrupt("event kind")),
        }
    }
}

/// One entry of the event feed. Sequence numbers are gap-free and in commit
/// order, so a follower that has seen `seq` asks for everything after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the feed, from 1.
    pub seq: u64,
    /// Created or spent.
    pub kind: EventKind,
    /// The note concerned.
    pub note_id: Bytes32,
    /// The note's owner.
    pub owner: Bytes32,
    /// The transaction that created or spent it.
    pub tx_id: Bytes32,
}

/// An issuance as the supply audit needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issuance {
    /// The issuing transaction.
    pub tx_id: Bytes32,
    /// Public amount issued.
    pub amount: u64,
    /// Public blinding of the issued commitments' sum.
    pub blinding: Bytes32,
}

/// A kernel as the supply audit needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// The transaction it balances.
    pub tx_id: Bytes32,
    /// Its excess `E`.
    pub excess: Bytes32,
}

/// An unspent note's commitment, with its id as the paging key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnspentCommitment {
    /// Note id (pages are ordered by it).
    pub note_id: Bytes32,
    /// The note's owner (spend public key).
    pub owner: Bytes32,
    /// The note's commitment.
    pub commitment: Bytes32,
}

/// Who started an audit run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditTrigger {
    /// `POST /v1/audit`.
    Request,
    /// The background schedule (every N blocks).
    Schedule,
}

impl AuditTrigger {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            AuditTrigger::Request => "request",
            AuditTrigger::Schedule => "schedule",
        }
    }
    pub(crate) fn from_db(text: &str) -> Result<Self, StoreError> {
        match text {
            "request" => Ok(AuditTrigger::Request),
            "schedule" => Ok(AuditTrigger::Schedule),
            _ => Err(StoreError::Corrupt("audit trigger")),
        }
    }
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        self.as_db()
    }
}

/// Where an audit run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditState {
    /// Replaying.
    Running,
    /// Everything checked held.
    Passed,
    /// Something did not hold: see the problem.
    Failed,
    /// The ledger stopped while it ran.
    Abandoned,
}

impl AuditState {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            AuditState::Running => "running",
            AuditState::Passed => "passed",
            AuditState::Failed => "failed",
            AuditState::Abandoned => "abandoned",
        }
    }
    pub(crate) fn from_db(text: &str) -> Result<Self, StoreError> {
        match text {
            "running" => Ok(AuditState::Running),
            "passed" => Ok(AuditState::Passed),
            "failed" => Ok(AuditState::Failed),
            "abandoned" => Ok(AuditState::Abandoned),
            _ => Err(StoreError::Corrupt("audit state")),
        }
    }
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        self.as_db()
    }
}

/// What a finished audit proved (or where it stopped).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuditOutcome {
    /// The last block covered; `None` for an empty journal.
    pub height: Option<u64>,
    /// That block's hash.
    pub block_hash: Option<Bytes32>,
    /// Blocks replayed.
    pub blocks: u64,
    /// Transactions re-verified.
    pub transactions: u64,
    /// Unspent notes at the end.
    pub unspent_notes: u64,
    /// Everything ever issued.
    pub issued: u128,
    /// Everything ever redeemed.
    pub redeemed: u128,
    /// Issued minus redeemed.
    pub outstanding: u64,
    /// Why it failed, if it did.
    pub problem: Option<String>,
}

/// A run of the full audit: its state and, once finished, its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRun {
    /// Identifier (increasing).
    pub id: u64,
    /// Request or schedule.
    pub trigger: AuditTrigger,
    /// Running, passed, failed or abandoned.
    pub state: AuditState,
    /// When it started, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// When it finished.
    pub finished_unix_ms: Option<u64>,
    /// What it found (empty while running).
    pub outcome: AuditOutcome,
}

/// The chain head row: where the journal ends and what its governance fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Height of the next block (= the number of blocks).
    pub next_height: u64,
    /// Hash of the last block (all zero before the first).
    pub tip_hash: Bytes32,
    /// Next event number.
    pub next_event_seq: u64,
    /// Officers an issue (or an officer change) needs; 0 before genesis.
    pub threshold: u32,
    /// Most money that may be outstanding; 0 before genesis.
    pub supply_ceiling: u64,
    /// Issued minus redeemed, as committed.
    pub outstanding: u64,
}

/// `u64` → `i64` column, refusing values above `i64::MAX` rather than wrapping.
pub(crate) fn to_db_i64(value: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field })
}

/// `u32` → `i32` column, refusing values above `i32::MAX`.
pub(crate) fn to_db_i32(value: u32, field: &'static str) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::OutOfRange { field })
}

/// `i64` column → `u64`; a negative value is corruption (the schema forbids it).
pub(crate) fn from_db_i64(value: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(what))
}

/// `i32` column → `u32`; a negative value is corruption.
pub(crate) fn from_db_i32(value: i32, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(what))
}

/// A byte column that must hold exactly 32 bytes.
pub(crate) fn to_bytes32(bytes: &[u8], what: &'static str) -> Result<Bytes32, StoreError> {
    Bytes32::try_from(bytes).map_err(|_| StoreError::Corrupt(what))
}
