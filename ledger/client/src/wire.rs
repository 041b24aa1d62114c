//! The JSON the API answers and accepts, as types: handlers build these, the
//! OpenAPI document derives its schemas from them, so the two cannot drift.
//!
//! Binary values are lowercase hex strings; amounts are minor units (`u64`);
//! totals that can exceed `u64` (everything ever issued) are decimal strings.

use crate::core_json;
use ledger_core::governance::Governance;
use ledger_core::{Amount, Issue, Receipt, Signature, Transaction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error: a stable machine-readable `code` and a sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case; clients match on it.
    #[schema(example = "unknown_key")]
    pub code: String,
    pub message: String,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` (the process runs) or `ready` (the database answers).
    #[schema(example = "ok")]
    pub status: String,
}

/// The ledger's identity and the governance in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerInfo {
    /// The key that signs every block, 64 hex characters.
    #[schema(value_type = core_json::Hex32)]
    pub ledger_key: String,
    /// Officers an issuance or an officer change needs.
    pub threshold: u64,
    /// Most money that may be outstanding, in minor units.
    pub supply_ceiling: u64,
    /// Governance entries journaled: the `sequence` the next entry carries.
    pub governance_sequence: u64,
    /// The hash of block 0, which names the ledger key and the first officers.
    #[schema(value_type = Option<core_json::Hex32>)]
    pub genesis_hash: Option<String>,
    /// The number of the last event of the feed (0 before the first): how
    /// far a follower at `after = N` is behind is `last_event - N`.
    #[serde(default)]
    pub last_event: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Officer,
    Bank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    Active,
    Suspended,
}

/// A participant as the journal's governance entries leave it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParticipantView {
    pub id: String,
    pub name: String,
    pub role: ParticipantRole,
    pub status: ParticipantStatus,
    /// Signs its requests and approvals; owns a bank's notes.
    #[schema(value_type = core_json::Hex32)]
    pub key: String,
    /// A bank's view key; `null` for an officer.
    #[schema(value_type = Option<core_json::Hex32>)]
    pub view_key: Option<String>,
    /// When the block that admitted it was sealed.
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParticipantList {
    pub participants: Vec<ParticipantView>,
}

/// `POST /v1/issuances`: an officer proposes to issue money to a bank.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub bank_id: String,
    /// Minor units, positive, within the supply ceiling.
    #[schema(value_type = u64, minimum = 1)]
    pub amount: Amount,
}

/// `POST /v1/issuances/{id}/approvals`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The officer's signature (purpose `officer`) over the proposal's `digest`.
    #[schema(value_type = core_json::SignatureHex)]
    pub signature: Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStateView {
    Open,
    Executed,
    Cancelled,
}

/// An issuance proposal, the issue it would execute and the approvals so far.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    /// 32 lowercase hex characters.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub id: String,
    pub bank_id: String,
    pub amount: u64,
    pub proposer_id: String,
    pub state: ProposalStateView,
    /// The ids of the officers who approved.
    pub approvals: Vec<String>,
    pub threshold: u64,
    /// The issue transaction that executed it.
    #[schema(value_type = Option<core_json::Hex32>)]
    pub executed_by: Option<String>,
    /// The issue an approval signs: one output of the amount to the bank's key.
    #[schema(value_type = core_json::Issue)]
    pub issue: Issue,
    /// What an officer signs (purpose `officer`), 64 hex characters.
    #[schema(value_type = core_json::Hex32)]
    pub digest: String,
    /// When this approval executed the issue: its receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<core_json::Receipt>)]
    pub receipt: Option<Receipt>,
}

/// A transaction or governance entry the ledger committed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Committed {
    #[schema(value_type = core_json::Hex32)]
    pub tx_id: ledger_core::TxId,
    #[schema(value_type = core_json::Receipt)]
    pub receipt: Receipt,
}

/// A committed transaction and its receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    #[schema(value_type = core_json::Hex32)]
    pub tx_id: ledger_core::TxId,
    #[schema(value_type = core_json::Transaction)]
    pub transaction: Transaction,
    #[schema(value_type = core_json::Receipt)]
    pub receipt: Receipt,
}

/// A note: who owns it, its commitment, and whether it is spent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    #[schema(value_type = core_json::Hex32)]
    pub id: String,
    #[schema(value_type = core_json::Hex32)]
    pub owner: String,
    #[schema(value_type = core_json::Hex32)]
    pub commitment: String,
    #[schema(value_type = core_json::BytesHex)]
    pub memo: String,
    #[schema(value_type = core_json::Hex32)]
    pub created_by: String,
    pub output_index: u32,
    pub spent: bool,
    #[schema(value_type = Option<core_json::Hex32>)]
    pub spent_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKindView {
    Created,
    Spent,
}

/// A note created or spent, in commit order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    pub kind: EventKindView,
    #[schema(value_type = core_json::Hex32)]
    pub note_id: String,
    #[schema(value_type = core_json::Hex32)]
    pub owner: String,
    #[schema(value_type = core_json::Hex32)]
    pub tx_id: String,
}

/// A page of the event feed; ask again with `after = next`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    pub next: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditStateView {
    Running,
    Passed,
    Failed,
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditTriggerView {
    Request,
    Schedule,
}

/// A full audit run: replay of the journal, every transaction re-verified,
/// every table compared. Totals appear once it has passed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditRunView {
    pub id: u64,
    pub state: AuditStateView,
    pub trigger: AuditTriggerView,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    /// The last block covered.
    pub height: Option<u64>,
    #[schema(value_type = Option<core_json::Hex32>)]
    pub block_hash: Option<String>,
    pub blocks: Option<u64>,
    pub transactions: Option<u64>,
    pub unspent_notes: Option<u64>,
    /// Everything ever issued, decimal (it may exceed 2^64).
    #[schema(pattern = "^[0-9]+$")]
    pub issued: Option<String>,
    /// Everything ever redeemed, decimal.
    #[schema(pattern = "^[0-9]+$")]
    pub redeemed: Option<String>,
    pub outstanding: Option<u64>,
    /// Why it failed.
    pub problem: Option<String>,
}

/// The supply as the last passed audit proved it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditedSupply {
    pub audit_id: u64,
    pub height: Option<u64>,
    #[schema(value_type = Option<core_json::Hex32>)]
    pub block_hash: Option<String>,
    pub audited_at_ms: Option<u64>,
    #[schema(pattern = "^[0-9]+$")]
    pub issued: String,
    #[schema(pattern = "^[0-9]+$")]
    pub redeemed: String,
    pub outstanding: u64,
    pub unspent_notes: u64,
}

/// What the ledger has committed since, not yet proven by an audit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnauditedSupply {
    pub height: Option<u64>,
    pub outstanding: u64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SupplyView {
    pub audited: Option<AuditedSupply>,
    pub unaudited: UnauditedSupply,
    pub supply_ceiling: u64,
    pub last_audit: Option<AuditRunView>,
    /// The id of the audit running now.
    pub running_audit: Option<u64>,
}

/// A sealed block; `transactions` (their ids, in order) only by height.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockView {
    pub height: u64,
    #[schema(value_type = core_json::Hex32)]
    pub hash: String,
    #[schema(value_type = core_json::BlockHeader)]
    pub header: ledger_core::BlockHeader,
    /// The 85 header bytes the signature signs.
    #[schema(value_type = core_json::BytesHex)]
    pub header_bytes: String,
    #[schema(value_type = core_json::SignatureHex)]
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<core_json::Hex32>>)]
    pub transactions: Option<Vec<String>>,
}

/// The body of `POST /v1/governance` (documented with the mirror schema).
pub type GovernanceBody = Governance;
