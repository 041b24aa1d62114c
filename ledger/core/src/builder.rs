//! Builders: how wallets, banks and officers make transactions.
//!
//! A wallet or bank hands over the notes it owns (with their openings), its spend
//! keys and what it wants to pay; it gets back a complete, signed transaction with
//! change to itself, and the openings of every output so it can record its change
//! and tell a payee what it sent. Bad requests are typed [`BuildError`]s; a built
//! transaction that would not verify is a bug and trips an assertion.

use crate::address::Address;
use crate::amount::Amount;
use crate::commitment::{bulletproof_gens, pedersen_gens, Commitment, Opening, RANGE_PROOF_BITS};
use crate::keys::{sign_with, PublicKey, Purpose, SecretKey, Signature};
use crate::memo::Memo;
use crate::point::Point;
use crate::transcript::RANGE_PROOF_DOMAIN;
use crate::tx::*;
use bulletproofs::RangeProof;
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED;
use curve25519_dalek::scalar::Scalar;
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};

/// A note the caller owns, with the opening it learned from the memo or the issue.
#[derive(Debug, Clone)]
pub struct OwnedNote {
    pub id: NoteId,
    pub owner: PublicKey,
    pub opening: Opening,
}

/// Pay `amount` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub to: Address,
    pub amount: Amount,
}

/// One output of a built transaction, with its opening.
#[derive(Debug, Clone)]
pub struct BuiltOutput {
    pub note: NoteId,
    pub to: Address,
    pub opening: Opening,
    /// Whether this is change back to the builder.
    pub change: bool,
}

/// A built transaction and what the builder needs to remember about it.
#[derive(Debug, Clone)]
pub struct Built {
    pub tx: Transaction,
    pub id: TxId,
    /// The notes spent, in input order.
    pub spent: Vec<NoteId>,
    pub outputs: Vec<BuiltOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("nothing to pay")]
    NoPayments,
    #[error("an amount is zero")]
    ZeroAmount,
    #[error("the amounts overflow 64 bits")]
    AmountOverflow,
    #[error("insufficient funds: {available} available, {needed} needed")]
    InsufficientFunds { available: Amount, needed: Amount },
    #[error("note {index} is owned by a key that was not given")]
    UnknownKey { index: usize },
    #[error("note {index} is given twice")]
    DuplicateNote { index: usize },
    #[error("paying this needs more than {} notes; consolidate first", INPUTS_MAX)]
    TooManyInputs,
    #[error("more than {} outputs", OUTPUTS_MAX)]
    TooManyOutputs,
    #[error("the selected notes' blindings cancel; add a change output")]
    DegenerateBlinding,
}

const PLACEHOLDER_SIGNATURE: Signature = Signature {
    r: RISTRETTO_BASEPOINT_COMPRESSED,
    r_point: curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT,
    s: Scalar::ZERO,
};

/// Builds a transfer paying `payments` from `notes`, change to `change_to`.
pub fn build_transfer<R: RngCore + CryptoRng>(
    keys: &[SecretKey],
    notes: &[OwnedNote],
    payments: &[Payment],
    change_to: &Address,
    rng: &mut R,
) -> Result<Built, BuildError> {
    if payments.is_empty() {
        return Err(BuildError::NoPayments);
    }
    if payments.iter().any(|p| p.amount.is_zero()) {
        return Err(BuildError::ZeroAmount);
    }
    let needed =
        Amount::checked_sum(payments.iter().map(|p| p.amount)).ok_or(BuildError::AmountOverflow)?;
    build_spend(
        TxKind::Transfer,
        keys,
        notes,
        payments,
        Amount::ZERO,
        needed,
        change_to,
        rng,
    )
}

/// Builds a redeem burning `amount` from `notes`, change to `change_to`.
pub fn build_redeem<R: RngCore + CryptoRng>(
    keys: &[SecretKey],
    notes: &[OwnedNote],
    amount: Amount,
    change_to: &Address,
    rng: &mut R,
) -> Result<Built, BuildError> {
    if amount.is_zero() {
        return Err(BuildError::ZeroAmount);
    }
    build_spend(
        TxKind::Redeem,
        keys,
        notes,
        &[],
        amount,
        amount,
        change_to,
        rng,
    )
}

#[allow(clippy::too_many_arguments)]
fn build_spend<R: RngCore + CryptoRng>(
    kind: TxKind,
    keys: &[SecretKey],
    notes: &[OwnedNote],
    payments: &[Payment],
    burned: Amount,
    needed: Amount,
    change_to: &Address,
    rng: &mut R,
) -> Result<Built, BuildError> {
    let mut signers = Vec::with_capacity(notes.len());
    for (index, note) in notes.iter().enumerate() {
        if notes[..index].iter().any(|n| n.id == note.id) {
            return Err(BuildError::DuplicateNote { index });
        }
        let key = keys
            .iter()
            .find(|k| k.public_key() == note.owner)
            .ok_or(BuildError::UnknownKey { index })?;
        signers.push(key);
    }
    let available = Amount::checked_sum(notes.iter().map(|n| n.opening.value()))
        .ok_or(BuildError::AmountOverflow)?;
    if available < needed {
        return Err(BuildError::InsufficientFunds { available, needed });
    }

    // Largest notes first: fewest inputs.
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by_key(|&i| core::cmp::Reverse(notes[i].opening.value()));
    let mut selected = Vec::new();
    let mut total = Amount::ZERO;
    for i in order {
        if total >= needed {
            break;
        }
        total = total
            .checked_add(notes[i].opening.value())
            .ok_or(BuildError::AmountOverflow)?;
        selected.push(i);
    }
    if selected.len() > INPUTS_MAX {
        return Err(BuildError::TooManyInputs);
    }
    let change = total
        .checked_sub(needed)
        .expect("selection stops once the total covers what is needed");

    let mut planned: Vec<(Address, Amount, bool)> =
        payments.iter().map(|p| (p.to, p.amount, false)).collect();
    if !change.is_zero() {
        planned.push((*change_to, change, true));
    }
    if planned.len() > OUTPUTS_MAX {
        return Err(BuildError::TooManyOutputs);
    }
    shuffle(&mut planned, rng);

    let openings: Vec<Opening> = planned
        .iter()
        .map(|(_, amount, _)| Opening::random(*amount, rng))
        .collect();
    let range_proof = prove_range(&openings, rng);
    let outputs: Vec<Output> = planned
        .iter()
        .zip(&openings)
        .map(|((to, _, _), opening)| {
            let commitment = opening
                .commit()
                .expect("a random blinding does not commit to the identity");
            Output {
                owner: to.spend,
                commitment,
                memo: Memo::seal(&to.view, &commitment, opening, rng),
            }
        })
        .collect();

    // e = Σ r_in − Σ r_out, E = e·B̃.
    let r_in: Scalar = selected.iter().map(|&i| notes[i].opening.blinding()).sum();
    let r_out: Scalar = openings.iter().map(|o| o.blinding()).sum();
    let e = r_in - r_out;
    if e == Scalar::ZERO {
        return Err(BuildError::DegenerateBlinding);
    }
    let b_blinding = pedersen_gens().B_blinding;
    let excess = Excess(Point::from_point(e * b_blinding));

    let mut spend = Spend {
        inputs: selected.iter().map(|&i| notes[i].id).collect(),
        burned,
        outputs,
        range_proof,
        kernel: Kernel {
            excess,
            signature: PLACEHOLDER_SIGNATURE,
        },
        owner_signatures: vec![PLACEHOLDER_SIGNATURE; selected.len()],
    };
    let digest = spend.digest(kind);
    spend.kernel.signature = sign_with(
        &e,
        &b_blinding,
        &excess.0.compressed,
        Purpose::Kernel,
        &digest,
        rng,
    );
    for (index, &i) in selected.iter().enumerate() {
        spend.owner_signatures[index] =
            signers[i].sign(Purpose::Owner, &owner_message(&digest, index), rng);
    }

    let tx = match kind {
        TxKind::Transfer => Transaction::Transfer(spend),
        TxKind::Redeem => Transaction::Redeem(spend),
        TxKind::Issue | TxKind::Governance => {
            unreachable!("only transfers and redeems are built here")
        }
    };
    let id = tx.id();
    let outputs = planned
        .into_iter()
        .zip(openings)
        .enumerate()
        .map(|(index, ((to, _, change), opening))| BuiltOutput {
            note: NoteId::derive(&id, u32::try_from(index).expect("bounded by OUTPUTS_MAX")),
            to,
            opening,
            change,
        })
        .collect();
    Ok(Built {
        spent: tx.inputs().to_vec(),
        tx,
        id,
        outputs,
    })
}

/// The aggregated proof over `openings`, padded to a power of two with zero
/// commitments (see [`crate::tx`]); `None` for no outputs.
fn prove_range<R: RngCore + CryptoRng>(
    openings: &[Opening],
    rng: &mut R,
) -> Option<AggregateRangeProof> {
    if openings.is_empty() {
        return None;
    }
    let m = openings.len().next_power_of_two();
    let mut values: Vec<u64> = openings.iter().map(|o| o.value().minor_units()).collect();
    let mut blindings: Vec<Scalar> = openings.iter().map(|o| *o.blinding()).collect();
    values.resize(m, 0);
    blindings.resize(m, Scalar::ZERO);
    let mut transcript = Transcript::new(RANGE_PROOF_DOMAIN);
    let (proof, _) = RangeProof::prove_multiple_with_rng(
        bulletproof_gens(),
        pedersen_gens(),
        &mut transcript,
        &values,
        &blindings,
        RANGE_PROOF_BITS,
        rng,
    )
    .expect("64-bit values with generators for OUTPUTS_MAX parties always prove");
    use zeroize::Zeroize;
    values.zeroize();
    blindings.zeroize();
    let proof =
        AggregateRangeProof::from_bytes(&proof.to_bytes()).expect("a proof made here parses");
    debug_assert_eq!(proof.parties(), m);
    Some(proof)
}

fn shuffle<T, R: RngCore>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let bound = u64::try_from(i + 1).expect("slice length fits in u64");
        let j = usize::try_from(rng.next_u64() % bound).expect("j <= i");
        items.swap(i, j);
    }
}

/// An unsigned issue of `outputs` (owner, amount) with fresh public blindings;
/// officers add their signatures with [`Issue::sign`].
pub fn build_issue<R: RngCore + CryptoRng>(
    reference: IssueReference,
    outputs: &[(PublicKey, Amount)],
    rng: &mut R,
) -> Result<Issue, BuildError> {
    if outputs.is_empty() {
        return Err(BuildError::NoPayments);
    }
    if outputs.len() > OUTPUTS_MAX {
        return Err(BuildError::TooManyOutputs);
    }
    if outputs.iter().any(|(_, a)| a.is_zero()) {
        return Err(BuildError::ZeroAmount);
    }
    Amount::checked_sum(outputs.iter().map(|(_, a)| *a)).ok_or(BuildError::AmountOverflow)?;
    Ok(Issue {
        reference,
        outputs: outputs
            .iter()
            .map(|(owner, value)| IssueOutput {
                owner: *owner,
                value: *value,
                blinding: PublicBlinding(Scalar::random(rng)),
            })
            .collect(),
        officer_signatures: Vec::new(),
    })
}

impl Issue {
    /// An officer's approval: a signature over the issue digest.
    pub fn approval<R: RngCore + CryptoRng>(
        &self,
        officer: &SecretKey,
        rng: &mut R,
    ) -> OfficerSignature {
        OfficerSignature {
            officer: officer.public_key(),
            signature: officer.sign(Purpose::Officer, &self.digest(), rng),
        }
    }

    /// Adds `officer`'s approval.
    pub fn sign<R: RngCore + CryptoRng>(&mut self, officer: &SecretKey, rng: &mut R) {
        let approval = self.approval(officer, rng);
        self.officer_signatures.push(approval);
    }

    /// The openings of the issued notes, for the bank that receives them (known
    /// before the officers sign: note ids do not depend on the signatures).
    pub fn owned_notes(&self) -> Vec<OwnedNote> {
        let id = self.note_base();
        self.outputs
            .iter()
            .enumerate()
            .map(|(index, o)| OwnedNote {
                id: NoteId::derive(&id, u32::try_from(index).expect("bounded by OUTPUTS_MAX")),
                owner: o.owner,
                opening: Opening::new(o.value, o.blinding.0),
            })
            .collect()
    }
}

impl BuiltOutput {
    /// The note as the recipient will own it.
    pub fn owned_note(&self) -> OwnedNote {
        OwnedNote {
            id: self.note,
            owner: self.to.spend,
            opening: self.opening.clone(),
        }
    }

    pub fn commitment(&self) -> Commitment {
        self.opening
            .commit()
            .expect("a random blinding does not commit to the identity")
    }
}
