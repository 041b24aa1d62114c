//! The JSON shapes of the ledger-core types, for the ledger's OpenAPI
//! document only: the [`crate::wire`] types name them in `#[schema(value_type
//! = ...)]`, and `ledger-core` stays free of documentation machinery. They are
//! never constructed — the ledger's OpenAPI test validates real answers
//! against them.
//!
//! Objects the core refuses with unknown fields are `additionalProperties:
//! false` here; the transaction kinds are whole objects (their `kind` a
//! constant) rather than `allOf` compositions, so that holds for them too.
//! Integers may be written `5.0` when exact (see the ledger's
//! `api::parse_json`): JSON Schema's `integer` admits them too.

// The fields exist for their schemas; nothing reads them.
#![allow(dead_code)]

use utoipa::ToSchema;

/// 32 bytes in lowercase hex.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
pub struct Hex32(String);

/// A Schnorr signature `R ‖ s`: 64 bytes in lowercase hex.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-f]{128}$")]
pub struct SignatureHex(String);

/// Bytes of variable length in lowercase hex.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^([0-9a-f]{2})*$")]
pub struct BytesHex(String);

/// A participant id: 1 to 64 characters of `A-Z a-z 0-9 - _`.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
pub struct ParticipantId(String);

/// A transaction in the binary encoding (PROTOCOL.md).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct EncodedTransaction(Vec<u8>);

/// A participant's role.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Role {
    Officer,
    Bank,
}

/// An approval: the officer's public key and signature.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerSignature {
    officer: Hex32,
    signature: SignatureHex,
}

/// An output of an issue: amount and blinding are public.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueOutput {
    owner: Hex32,
    #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
    value: u64,
    /// The public blinding scalar.
    blinding: Hex32,
}

/// A confidential output: owner, Pedersen commitment, encrypted memo.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    owner: Hex32,
    commitment: Hex32,
    memo: BytesHex,
}

/// The kernel: the excess and the proof that it commits to zero.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    excess: Hex32,
    signature: SignatureHex,
}

/// A participant as a governance entry names it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    role: Role,
    id: ParticipantId,
    /// 1 to 200 bytes of UTF-8 without control characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    key: Hex32,
    view_key: Option<Hex32>,
}

/// What a governance entry does.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Action {
    Genesis {
        ledger_key: Hex32,
        #[schema(minimum = 1, maximum = 255)]
        threshold: u8,
        #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
        supply_ceiling: u64,
        #[schema(min_items = 1, max_items = 32)]
        members: Vec<Member>,
    },
    Admit {
        member: Member,
    },
    Suspend {
        id: ParticipantId,
    },
    Reinstate {
        id: ParticipantId,
    },
    Rekey {
        id: ParticipantId,
        key: Hex32,
        view_key: Option<Hex32>,
    },
    SetThreshold {
        #[schema(minimum = 1, maximum = 255)]
        threshold: u8,
    },
}

/// A governance entry and the officers' approvals of its digest.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// How many governance entries the journal holds before this one.
    #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
    sequence: u64,
    action: Action,
    /// May be omitted when empty.
    #[schema(required = false, max_items = 32)]
    approvals: Vec<OfficerSignature>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum IssueKind {
    Issue,
}
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TransferKind {
    Transfer,
}
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RedeemKind {
    Redeem,
}
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GovernanceKind {
    Governance,
}

/// Money created by the central bank: M-of-N officer signatures over its
/// digest (as a proposal shows it, before the officers sign).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    /// 32 bytes, unique per issue.
    reference: Hex32,
    #[schema(min_items = 1, max_items = 16)]
    outputs: Vec<IssueOutput>,
    #[schema(max_items = 32)]
    officer_signatures: Vec<OfficerSignature>,
}

/// An issue as a transaction of the journal.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueTransaction {
    kind: IssueKind,
    /// 32 bytes, unique per issue.
    reference: Hex32,
    #[schema(min_items = 1, max_items = 16)]
    outputs: Vec<IssueOutput>,
    #[schema(max_items = 32)]
    officer_signatures: Vec<OfficerSignature>,
}

/// A payment between holders: inputs spent, outputs created.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    kind: TransferKind,
    #[schema(min_items = 1, max_items = 16)]
    inputs: Vec<Hex32>,
    /// Zero for a transfer.
    #[schema(minimum = 0, maximum = 0)]
    burned: u64,
    #[schema(max_items = 16)]
    outputs: Vec<Output>,
    /// Present exactly when there are outputs.
    range_proof: Option<BytesHex>,
    kernel: Kernel,
    /// One per input, in input order.
    #[schema(min_items = 1, max_items = 16)]
    owner_signatures: Vec<SignatureHex>,
}

/// A bank takes `burned` out of circulation (change in `outputs`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    kind: RedeemKind,
    #[schema(min_items = 1, max_items = 16)]
    inputs: Vec<Hex32>,
    /// The public amount destroyed.
    #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
    burned: u64,
    #[schema(max_items = 16)]
    outputs: Vec<Output>,
    /// Present exactly when there are outputs.
    range_proof: Option<BytesHex>,
    kernel: Kernel,
    /// One per input, in input order.
    #[schema(min_items = 1, max_items = 16)]
    owner_signatures: Vec<SignatureHex>,
}

/// A governance entry as a transaction of the journal.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GovernanceTransaction {
    kind: GovernanceKind,
    #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
    sequence: u64,
    action: Action,
    #[schema(required = false, max_items = 32)]
    approvals: Vec<OfficerSignature>,
}

/// A transaction of the journal: `kind` names which, every binary value
/// is lowercase hex.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Transaction {
    Issue(IssueTransaction),
    Transfer(Transfer),
    Redeem(Redeem),
    Governance(GovernanceTransaction),
}

/// What a bank submits: a transfer or a redeem (issues and governance
/// entries reach the journal through their own routes).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BankTransaction {
    Transfer(Transfer),
    Redeem(Redeem),
}

/// A block header as the ledger signed it.
#[derive(ToSchema)]
pub struct BlockHeader {
    #[schema(minimum = 0)]
    height: u64,
    prev_hash: Hex32,
    merkle_root: Hex32,
    #[schema(minimum = 0)]
    tx_count: u32,
    /// Milliseconds since the Unix epoch, as the ledger's clock said.
    #[schema(minimum = 0)]
    time_ms: u64,
}

/// Proof that the ledger committed a transaction: the signed block header and
/// the Merkle path from the transaction id to its root.
#[derive(ToSchema)]
pub struct Receipt {
    tx_id: Hex32,
    block: BlockHeader,
    block_signature: SignatureHex,
    #[schema(minimum = 0)]
    index: u32,
    path: Vec<Hex32>,
}
