//! Validation: everything about a transaction that needs no write lock on the store.
//!
//! [`verify`] is one flat function, one check per line, each failing with its own
//! [`Rejection`]. The order below is the order of precedence: a transaction that
//! breaks several rules is rejected for the first. Cheap checks come before
//! expensive ones, so garbage costs little.
//!
//! Transfer and redeem:
//!  1. structure ([`Transaction::check_structure`]): `NoInputs`, `TooManyInputs`,
//!     `NoOutputs` (transfer), `TooManyOutputs`, `BurnInTransfer`, `ZeroAmount`
//!     (redeem burning nothing), `OwnerSignatureCount`, `RangeProofShape`,
//!     `DuplicateInput`;
//!  2. state, input by input: `UnknownInput`, `SpentInput`;
//!  3. `Unbalanced`: `Σ C_in − Σ C_out − u·B ≠ E`;
//!  4. `BadKernelSignature`: no proof that `E = e·B̃`;
//!  5. `BadOwnerSignature`, input by input;
//!  6. `BadRangeProof`.
//!
//! Issue:
//!  1. structure: `NoOutputs`, `TooManyOutputs`, `TooManyOfficerSignatures`,
//!     `TooFewOfficers` (no signature at all), `ZeroAmount`, `AmountOverflow`;
//!  2. signature by signature: `UnknownOfficer`, `DuplicateOfficer`, `BadOfficerSignature`;
//!  3. `TooFewOfficers`.
//!
//! Governance entries are checked against the governance state in force
//! ([`crate::governance::GovernanceState::check`]); `verify` refuses them
//! (`GovernanceEntry`). Whether a redeem's inputs belong to an active bank, and
//! whether an issue stays under the supply ceiling, also depend on that state and
//! are checked by the ledger and the audit (`RedeemNotBank`, `SupplyCeiling`).
//!
//! The final check that each input is still unspent happens again in the store's
//! conditional update: this function sees a snapshot.

use crate::commitment::{value_point, Commitment};
use crate::keys::{verify_with, PublicKey, Purpose};
use crate::tx::{owner_message, Issue, Spend, Transaction};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;

/// A note as the store holds it, for an input being verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNote {
    pub owner: PublicKey,
    pub commitment: Commitment,
    pub spent: bool,
}

/// Who may issue: the officers' keys and how many must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuancePolicy {
    pub officers: Vec<PublicKey>,
    pub threshold: usize,
}

/// Why a transaction is rejected. Each variant is one reason; [`Rejection::code`]
/// is its stable name for APIs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    #[error("the transaction spends no inputs")]
    NoInputs,
    #[error("the transaction spends more than {} inputs", crate::tx::INPUTS_MAX)]
    TooManyInputs,
    #[error("the transaction creates no outputs")]
    NoOutputs,
    #[error("the transaction creates more than {} outputs", crate::tx::OUTPUTS_MAX)]
    TooManyOutputs,
    #[error(
        "the issue carries more than {} officer signatures",
        crate::tx::OFFICER_SIGNATURES_MAX
    )]
    TooManyOfficerSignatures,
    #[error("a transfer cannot burn money")]
    BurnInTransfer,
    #[error("an amount is zero")]
    ZeroAmount,
    #[error("the amounts overflow 64 bits")]
    AmountOverflow,
    #[error("the number of owner signatures differs from the number of inputs")]
    OwnerSignatureCount,
    #[error("the range proof does not cover exactly the outputs")]
    RangeProofShape,
    #[error("input {index} is spent twice in this transaction")]
    DuplicateInput { index: usize },
    #[error("input {index} is not a note on the ledger")]
    UnknownInput { index: usize },
    #[error("input {index} is already spent")]
    SpentInput { index: usize },
    #[error("inputs minus outputs do not equal the kernel excess")]
    Unbalanced,
    #[error("the kernel signature does not prove the excess is a commitment to zero")]
    BadKernelSignature,
    #[error("input {index} is not signed by its owner")]
    BadOwnerSignature { index: usize },
    #[error("the range proof does not verify")]
    BadRangeProof,
    #[error("officer signature {index} is by a key that is not an active officer")]
    UnknownOfficer { index: usize },
    #[error("officer signature {index} repeats an officer")]
    DuplicateOfficer { index: usize },
    #[error("officer signature {index} does not verify")]
    BadOfficerSignature { index: usize },
    #[error("{have} officer signatures, {need} required")]
    TooFewOfficers { have: usize, need: usize },
    #[error("a governance entry is checked against the governance state in force, not here")]
    GovernanceEntry,
    #[error("the entry's sequence is not the number of governance entries before it")]
    GovernanceSequence,
    #[error(
        "a genesis names 1 to {} officers",
        crate::governance::GENESIS_MEMBERS_MAX
    )]
    GenesisMembers,
    #[error("participant ids are 1 to 64 bytes of A-Z, a-z, 0-9, - and _")]
    BadParticipantId,
    #[error("participant names are 1 to 200 bytes")]
    BadParticipantName,
    #[error("block 0 must hold the genesis entry and nothing else")]
    NoGenesis,
    #[error("a genesis entry may only be the single transaction of block 0")]
    GenesisMisplaced,
    #[error("the genesis entry is authorised by the block key and carries no approvals")]
    UnexpectedApprovals,
    #[error("the genesis entry names another ledger key than the one that signs the blocks")]
    GenesisLedgerKey,
    #[error("the genesis entry may name officers only")]
    GenesisBank,
    #[error("the threshold must be between 1 and the number of active officers")]
    BadThreshold,
    #[error(
        "the supply ceiling must be between 1 and {}",
        crate::governance::SUPPLY_CEILING_MAX
    )]
    BadSupplyCeiling,
    #[error("a participant with this id exists")]
    ParticipantExists,
    #[error("the key is, or was, another participant's")]
    KeyInUse,
    #[error("a bank has a view key and an officer has none")]
    ViewKeyRole,
    #[error("no participant has this id")]
    UnknownParticipant,
    #[error("the participant is not active")]
    NotActive,
    #[error("the participant is not suspended")]
    NotSuspended,
    #[error("suspending this officer would leave fewer active officers than the threshold")]
    ThresholdUnreachable,
    #[error("the issue would take the outstanding supply above the ceiling fixed at genesis")]
    SupplyCeiling,
    #[error("only an active bank may redeem; input {index} is owned by another key")]
    RedeemNotBank { index: usize },
    #[error("output {index} is a note that already exists (a transaction applied twice)")]
    OutputExists { index: usize },
    #[error("issue output {index} is not owned by an active bank")]
    IssueNotToBank { index: usize },
    #[error("an earlier issue has the same reference: a proposal executed twice")]
    IssueReferenceReused,
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NoInputs => "no_inputs",
            Rejection::TooManyInputs => "too_many_inputs",
            Rejection::NoOutputs => "no_outputs",
            Rejection::TooManyOutputs => "too_many_outputs",
            Rejection::TooManyOfficerSignatures => "too_many_officer_signatures",
            Rejection::BurnInTransfer => "burn_in_transfer",
            Rejection::ZeroAmount => "zero_amount",
            Rejection::AmountOverflow => "amount_overflow",
            Rejection::OwnerSignatureCount => "owner_signature_count",
            Rejection::RangeProofShape => "range_proof_shape",
            Rejection::DuplicateInput { .. } => "duplicate_input",
            Rejection::UnknownInput { .. } => "unknown_input",
            Rejection::SpentInput { .. } => "spent_input",
            Rejection::Unbalanced => "unbalanced",
            Rejection::BadKernelSignature => "bad_kernel_signature",
            Rejection::BadOwnerSignature { .. } => "bad_owner_signature",
            Rejection::BadRangeProof => "bad_range_proof",
            Rejection::UnknownOfficer { .. } => "unknown_officer",
            Rejection::DuplicateOfficer { .. } => "duplicate_officer",
            Rejection::BadOfficerSignature { .. } => "bad_officer_signature",
            Rejection::TooFewOfficers { .. } => "too_few_officers",
            Rejection::GovernanceEntry => "governance_entry",
            Rejection::GovernanceSequence => "governance_sequence",
            Rejection::GenesisMembers => "genesis_members",
            Rejection::BadParticipantId => "bad_participant_id",
            Rejection::BadParticipantName => "bad_name",
            Rejection::NoGenesis => "no_genesis",
            Rejection::GenesisMisplaced => "genesis_misplaced",
            Rejection::UnexpectedApprovals => "unexpected_approvals",
            Rejection::GenesisLedgerKey => "genesis_ledger_key",
            Rejection::GenesisBank => "genesis_bank",
            Rejection::BadThreshold => "bad_threshold",
            Rejection::BadSupplyCeiling => "bad_supply_ceiling",
            Rejection::ParticipantExists => "participant_exists",
            Rejection::KeyInUse => "key_in_use",
            Rejection::ViewKeyRole => "view_key_role",
            Rejection::UnknownParticipant => "unknown_participant",
            Rejection::NotActive => "not_active",
            Rejection::NotSuspended => "not_suspended",
            Rejection::ThresholdUnreachable => "threshold_unreachable",
            Rejection::SupplyCeiling => "supply_ceiling",
            Rejection::RedeemNotBank { .. } => "redeem_not_bank",
            Rejection::OutputExists { .. } => "output_exists",
            Rejection::IssueNotToBank { .. } => "issue_not_to_bank",
            Rejection::IssueReferenceReused => "issue_reference_reused",
        }
    }
}

/// Verifies `tx` against the stored state of its inputs (`inputs[i]` is what the
/// store holds for `tx.inputs()[i]`, `None` if unknown) and, for an issue, the
/// issuance policy.
///
/// Panics if `inputs` is not aligned with `tx.inputs()`: that is a caller bug.
pub fn verify(
    tx: &Transaction,
    inputs: &[Option<StoredNote>],
    policy: &IssuancePolicy,
) -> Result<(), Rejection> {
    tx.check_structure()?;
    assert_eq!(inputs.len(), tx.inputs().len(), "inputs are not aligned");
    match tx {
        Transaction::Issue(issue) => verify_issue(issue, policy),
        Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
            verify_spend(spend, &tx.digest(), inputs)
        }
        Transaction::Governance(_) => Err(Rejection::GovernanceEntry),
    }
}

/// Steps 2 and 3 of a spend's checks (state, balance): everything but the proofs
/// and signatures. Returns the stored inputs.
pub(crate) fn precheck_spend<'a>(
    spend: &Spend,
    inputs: &'a [Option<StoredNote>],
) -> Result<Vec<&'a StoredNote>, Rejection> {
    let mut stored = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let note = input.as_ref().ok_or(Rejection::UnknownInput { index })?;
        if note.spent {
            return Err(Rejection::SpentInput { index });
        }
        stored.push(note);
    }
    if excess_of(spend, &stored) != spend.kernel.excess.point() {
        return Err(Rejection::Unbalanced);
    }
    Ok(stored)
}

fn verify_spend(
    spend: &Spend,
    digest: &[u8; 32],
    inputs: &[Option<StoredNote>],
) -> Result<(), Rejection> {
    let stored = precheck_spend(spend, inputs)?;
    verify_with(
        &crate::commitment::pedersen_gens().B_blinding,
        &spend.kernel.excess.0,
        Purpose::Kernel,
        digest,
        &spend.kernel.signature,
    )
    .map_err(|_| Rejection::BadKernelSignature)?;
    for (index, (note, signature)) in stored.iter().zip(&spend.owner_signatures).enumerate() {
        note.owner
            .verify(Purpose::Owner, &owner_message(digest, index), signature)
            .map_err(|_| Rejection::BadOwnerSignature { index })?;
    }
    let commitments: Vec<Commitment> = spend.outputs.iter().map(|o| o.commitment).collect();
    match &spend.range_proof {
        Some(proof) if proof.verify(&commitments) => Ok(()),
        Some(_) => Err(Rejection::BadRangeProof),
        None if commitments.is_empty() => Ok(()),
        None => Err(Rejection::RangeProofShape),
    }
}

/// `Σ C_in − Σ C_out − u·B`.
pub(crate) fn excess_of(spend: &Spend, inputs: &[&StoredNote]) -> RistrettoPoint {
    let inputs_sum: RistrettoPoint = inputs.iter().map(|n| n.commitment.point()).sum();
    let outputs_sum: RistrettoPoint = spend.outputs.iter().map(|o| o.commitment.point()).sum();
    let burned = if spend.burned.is_zero() {
        RistrettoPoint::identity()
    } else {
        value_point(spend.burned)
    };
    inputs_sum - outputs_sum - burned
}

fn verify_issue(issue: &Issue, policy: &IssuancePolicy) -> Result<(), Rejection> {
    let digest = issue.digest();
    for (index, signed) in issue.officer_signatures.iter().enumerate() {
        if !policy.officers.contains(&signed.officer) {
            return Err(Rejection::UnknownOfficer { index });
        }
        if issue.officer_signatures[..index]
            .iter()
            .any(|earlier| earlier.officer == signed.officer)
        {
            return Err(Rejection::DuplicateOfficer { index });
        }
        signed
            .officer
            .verify(Purpose::Officer, &digest, &signed.signature)
            .map_err(|_| Rejection::BadOfficerSignature { index })?;
    }
    let have = issue.officer_signatures.len();
    if have < policy.threshold.max(1) {
        return Err(Rejection::TooFewOfficers {
            have,
            need: policy.threshold.max(1),
        });
    }
    Ok(())
}
