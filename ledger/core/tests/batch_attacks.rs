//! The batch verifier under attack.
//!
//! `verify_batch` checks every group of two or more transactions with one
//! multiscalar multiplication and bisects a group that fails; a group of one falls
//! back to `verify` (and `bulletproofs`). An attack tried alone therefore never
//! meets the batch check. Here every forgery of `tests/verify.rs`, and those only a
//! batch could be fooled by (errors that cancel in an unweighted sum, a proof
//! whose padding slot is not the identity, proofs swapped between transactions),
//! hides among honest transactions of every shape: transfers with 1 to 16 outputs
//! (so aggregations of 1, 2, 4, 8 and 16 values, padded from 3, 5–7 and 9–15),
//! transfers spending several notes, redeems with change and redeems with no
//! outputs at all. Each forgery must get exactly the [`Rejection`] `verify` gives
//! it, and every honest transaction must still be accepted.
//!
//! The attacker is the strongest one of `tests/verify.rs`: the sender, who owns the
//! inputs and knows every opening, and re-proves and re-signs after tampering.
//!
//! Last, a seeded differential test: random batches, randomly tampered, where each
//! transaction must get from `verify_batch` what `verify` gives it, and each range
//! proof from `verify_range_proofs` what `bulletproofs` gives it.
//!
//! Proving costs tens of milliseconds a transaction, so the honest transactions and
//! the forgeries are made once ([`pool`], [`attacks`]) and shared by the tests.

mod common;

use bulletproofs::RangeProof;
use common::*;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use ledger_core::batch::{verify_batch_report, verify_range_proofs, BatchReport};
use ledger_core::commitment::{bulletproof_gens, pedersen_gens};
use ledger_core::tx::{AggregateRangeProof, RangeProofFormatError, OUTPUTS_MAX};
use ledger_core::*;
use merlin::Transcript;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The shapes of honest transactions in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A transfer from one note with this many outputs: one is an exact payment,
    /// more are payments and change.
    Transfer { outputs: usize },
    /// A transfer spending this many notes (a payment and change).
    Consolidation { inputs: usize },
    /// A redeem of this many notes with one change output.
    RedeemWithChange { inputs: usize },
    /// A redeem of this many notes whole: no outputs, no range proof.
    RedeemWhole { inputs: usize },
}

fn shapes() -> Vec<Shape> {
    let mut shapes: Vec<Shape> = (1..=OUTPUTS_MAX)
        .map(|outputs| Shape::Transfer { outputs })
        .collect();
    shapes.extend([
        Shape::Consolidation { inputs: 2 },
        Shape::Consolidation { inputs: 3 },
        Shape::Consolidation { inputs: 16 },
        Shape::RedeemWithChange { inputs: 1 },
        Shape::RedeemWithChange { inputs: 3 },
        Shape::RedeemWhole { inputs: 1 },
        Shape::RedeemWhole { inputs: 2 },
    ]);
    shapes
}

/// A transaction and what the store holds for each of its inputs.
#[derive(Debug, Clone)]
struct Entry {
    tx: Transaction,
    inputs: Vec<Option<StoredNote>>,
}

/// An honest spend and what its author knows.
struct Honest {
    shape: Shape,
    /// Which of the pool's copies of this shape.
    copy: usize,
    entry: Entry,
    /// The spent notes, in input order, with their openings.
    notes: Vec<OwnedNote>,
    values: Vec<u64>,
    blindings: Vec<Scalar>,
}

impl Honest {
    fn spend(&self) -> &Spend {
        spend(&self.entry.tx)
    }

    /// `Σ r_in − Σ r_out`: the kernel's secret.
    fn kernel_secret(&self) -> Scalar {
        let notes: Vec<&OwnedNote> = self.notes.iter().collect();
        kernel_secret(&notes, &self.blindings)
    }

    /// A copy to tamper with.
    fn forge(&self) -> Entry {
        self.entry.clone()
    }
}

/// Honest transactions of every shape, all valid against one ledger snapshot.
struct Pool {
    ledger: Ledger,
    bank: WalletKeys,
    alice: WalletKeys,
    honest: Vec<Honest>,
    /// An issue signed by enough officers: the batch verifies issues one by one.
    issue: Entry,
}

/// Copies of each shape in the pool: two, so a proof can be swapped between
/// transactions of equal output count.
const COPIES: usize = 2;

impl Pool {
    fn get(&self, shape: Shape, copy: usize) -> &Honest {
        self.honest
            .iter()
            .find(|h| h.shape == shape && h.copy == copy)
            .expect("the pool holds every shape")
    }

    fn transfer(&self, outputs: usize) -> &Honest {
        self.get(Shape::Transfer { outputs }, 0)
    }

    fn policy(&self) -> &IssuancePolicy {
        &self.ledger.policy
    }

    /// The honest entries that fill batches around the forgeries: every spend of the
    /// pool and the issue.
    fn fillers(&self) -> Vec<&Entry> {
        self.honest
            .iter()
            .map(|h| &h.entry)
            .chain([&self.issue])
            .collect()
    }

    /// Re-signs a tampered spend as its author (the bank owns every input).
    fn resign(&self, entry: &mut Entry, e: &Scalar, rng: &mut ChaCha20Rng) {
        let owners = vec![&self.bank.spend; entry.tx.inputs().len()];
        resign(&mut entry.tx, e, &owners, rng);
    }
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(build_pool)
}

fn build_pool() -> Pool {
    let mut fx = Fixture::new(0xba7c_a77a);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let keys = std::slice::from_ref(&bank.spend);
    let mut honest = Vec::new();
    for copy in 0..COPIES {
        // Amounts differ between copies, so no two transactions are alike.
        let unit = 1_000 + u64::try_from(copy).unwrap();
        for shape in shapes() {
            let (notes, built) = match shape {
                Shape::Transfer { outputs } => {
                    let whole = 100 * unit;
                    let notes = fx.issue(&bank, &[whole]);
                    let amounts: Vec<u64> = if outputs == 1 {
                        vec![whole]
                    } else {
                        (1..outputs)
                            .map(|k| 10 * u64::try_from(k).unwrap() + unit)
                            .collect()
                    };
                    let payments: Vec<Payment> = amounts
                        .iter()
                        .map(|&amount| Payment {
                            to: alice.address(),
                            amount: Amount::new(amount),
                        })
                        .collect();
                    let built =
                        build_transfer(keys, &notes, &payments, &bank.address(), &mut fx.rng);
                    (notes, built)
                }
                Shape::Consolidation { inputs } => {
                    let notes = fx.issue(&bank, &vec![unit; inputs]);
                    let total = unit * u64::try_from(inputs).unwrap();
                    let payment = Payment {
                        to: alice.address(),
                        amount: Amount::new(total - 500),
                    };
                    let built =
                        build_transfer(keys, &notes, &[payment], &bank.address(), &mut fx.rng);
                    (notes, built)
                }
                Shape::RedeemWithChange { inputs } | Shape::RedeemWhole { inputs } => {
                    let notes = fx.issue(&bank, &vec![unit; inputs]);
                    let total = unit * u64::try_from(inputs).unwrap();
                    let change = if matches!(shape, Shape::RedeemWhole { .. }) {
                        0
                    } else {
                        300
                    };
                    let built = build_redeem(
                        keys,
                        &notes,
                        Amount::new(total - change),
                        &bank.address(),
                        &mut fx.rng,
                    );
                    (notes, built)
                }
            };
            let built = built.expect("builds");
            let notes: Vec<OwnedNote> = built
                .spent
                .iter()
                .map(|id| notes.iter().find(|n| n.id == *id).unwrap().clone())
                .collect();
            let inputs = fx.ledger.inputs(&built.tx);
            let honest_one = Honest {
                shape,
                copy,
                entry: Entry {
                    tx: built.tx.clone(),
                    inputs,
                },
                notes,
                values: built
                    .outputs
                    .iter()
                    .map(|o| o.opening.value().minor_units())
                    .collect(),
                blindings: built
                    .outputs
                    .iter()
                    .map(|o| *o.opening.blinding())
                    .collect(),
            };
            assert_eq!(
                fx.ledger.verify(&honest_one.entry.tx),
                Ok(()),
                "{shape:?} is honest"
            );
            honest.push(honest_one);
        }
    }
    // The pool holds the shapes it claims to.
    for outputs in 0..=OUTPUTS_MAX {
        assert!(
            honest.iter().any(|h| h.spend().outputs.len() == outputs),
            "no honest spend with {outputs} outputs"
        );
    }
    let issue = Transaction::Issue(fx.signed_issue(&bank.spend.public_key(), &[5_000, 7]));
    assert_eq!(fx.ledger.verify(&issue), Ok(()));
    Pool {
        ledger: fx.ledger,
        bank,
        alice,
        honest,
        issue: Entry {
            tx: issue,
            inputs: Vec::new(),
        },
    }
}

/// A forgery: one transaction, or two for one that needs a partner in the batch.
struct Attack {
    name: String,
    forged: Vec<Entry>,
    /// What `verify` gives each forged transaction: the rule it breaks.
    expected: Vec<Rejection>,
}

fn attacks() -> &'static [Attack] {
    static ATTACKS: OnceLock<Vec<Attack>> = OnceLock::new();
    ATTACKS.get_or_init(|| build_attacks(pool()))
}

/// Every attack, checked once against `verify` so that the batch tests can compare
/// with the rejection alone.
fn build_attacks(pool: &Pool) -> Vec<Attack> {
    let mut rng = ChaCha20Rng::seed_from_u64(0xa77ac);
    let mut attacks = Forgeries::default();
    let b = pedersen_gens().B;
    let b_blinding = pedersen_gens().B_blinding;

    // Money from nothing: an output bigger than what came in.
    for h in [
        pool.transfer(2),
        pool.transfer(11),
        pool.get(Shape::RedeemWithChange { inputs: 1 }, 0),
    ] {
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).outputs[0].commitment =
            commit(Scalar::from(h.values[0] + 1_000), h.blindings[0]);
        attacks.one(
            "a bigger output commitment",
            h.shape,
            forged,
            Rejection::Unbalanced,
        );
    }

    // The same, with the excess recomputed so the books balance: nobody can sign
    // for that excess, not with the old signature, a guessed key, or the sender's
    // kernel secret with a valid proof for the new values.
    for h in [
        pool.transfer(2),
        pool.transfer(5),
        pool.get(Shape::RedeemWithChange { inputs: 3 }, 0),
    ] {
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).outputs[0].commitment =
            commit(Scalar::from(h.values[0] + 1_000), h.blindings[0]);
        let excess = public_excess(&pool.ledger, &forged.tx);
        spend_mut(&mut forged.tx).kernel.excess = excess_of(excess);
        attacks.one(
            "a recomputed excess under the old kernel signature",
            h.shape,
            forged.clone(),
            Rejection::BadKernelSignature,
        );
        let mut guessed = forged.clone();
        pool.resign(&mut guessed, &Scalar::random(&mut rng), &mut rng);
        attacks.one(
            "a recomputed excess signed with a guessed key",
            h.shape,
            guessed,
            Rejection::BadKernelSignature,
        );
        let mut values = h.values.clone();
        values[0] += 1_000;
        spend_mut(&mut forged.tx).range_proof = Some(prove(&values, &h.blindings, &mut rng));
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a recomputed excess, re-proved and signed by the sender",
            h.shape,
            forged,
            Rejection::BadKernelSignature,
        );
    }

    // A valid proof of another transaction with as many outputs.
    for outputs in [3, 8, 16] {
        let h = pool.transfer(outputs);
        let other = pool.get(h.shape, 1);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).range_proof = other.spend().range_proof.clone();
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a range proof from another transaction",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
    }

    // A proof for other values than the outputs commit to.
    for outputs in [1, 6, 12] {
        let h = pool.transfer(outputs);
        let mut values = h.values.clone();
        values[outputs - 1] += 1;
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).range_proof = Some(prove(&values, &h.blindings, &mut rng));
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a range proof for other values",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
    }

    // The outputs in another order: the proof binds the order.
    for (outputs, i, j) in [(2, 0, 1), (9, 0, 8), (15, 3, 14)] {
        let h = pool.transfer(outputs);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).outputs.swap(i, j);
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            &format!("outputs {i} and {j} swapped, re-signed"),
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
    }

    // Aggregations of the wrong size: a proof for half or twice the padded outputs,
    // none at all, an output dropped or added under the old proof.
    for outputs in [1, 3, 5, 16] {
        let h = pool.transfer(outputs);
        let m = outputs.next_power_of_two();
        for parties in [m / 2, 2 * m] {
            if parties == 0 || parties > OUTPUTS_MAX {
                continue;
            }
            let values: Vec<u64> = (0..parties).map(|k| h.values[k % outputs]).collect();
            let blindings: Vec<Scalar> = (0..parties).map(|k| h.blindings[k % outputs]).collect();
            let mut forged = h.forge();
            spend_mut(&mut forged.tx).range_proof = Some(prove(&values, &blindings, &mut rng));
            pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
            attacks.one(
                &format!("a proof of {parties} values for {outputs} outputs"),
                h.shape,
                forged,
                Rejection::RangeProofShape,
            );
        }
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).range_proof = None;
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "no range proof",
            h.shape,
            forged,
            Rejection::RangeProofShape,
        );
    }
    {
        // 5 outputs (8 proven) cut to 4: the last output's value and blinding move
        // into the first, so the books balance and the kernel stays the sender's.
        let h = pool.transfer(5);
        let mut forged = h.forge();
        let spend = spend_mut(&mut forged.tx);
        let last = spend.outputs.pop().unwrap();
        spend.outputs[0].commitment = commitment_of(
            point(spend.outputs[0].commitment.as_bytes()) + point(last.commitment.as_bytes()),
        );
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "an output folded into another, 8-value proof kept for 4 outputs",
            h.shape,
            forged,
            Rejection::RangeProofShape,
        );
        // 4 outputs (4 proven) grown to 5 with a zero output the sender blinds.
        let h = pool.transfer(4);
        let mut forged = h.forge();
        let rho = Scalar::random(&mut rng);
        let mut extra = h.spend().outputs[0].clone();
        extra.commitment = commitment_of(rho * b_blinding);
        spend_mut(&mut forged.tx).outputs.push(extra);
        spend_mut(&mut forged.tx).kernel.excess = excess_of((h.kernel_secret() - rho) * b_blinding);
        pool.resign(&mut forged, &(h.kernel_secret() - rho), &mut rng);
        attacks.one(
            "a fifth output under a 4-value proof",
            h.shape,
            forged,
            Rejection::RangeProofShape,
        );
    }

    // A negative output: balances, signs, and only the range proof stands in the way.
    for (outputs, i, j) in [(2, 0, 1), (7, 2, 5), (13, 12, 0)] {
        let h = pool.transfer(outputs);
        let mut forged = h.forge();
        let stolen = h.values[i] + h.values[j] + 1;
        spend_mut(&mut forged.tx).outputs[i].commitment =
            commit(Scalar::from(stolen), h.blindings[i]);
        spend_mut(&mut forged.tx).outputs[j].commitment = commit(-Scalar::ONE, h.blindings[j]);
        assert_eq!(
            public_excess(&pool.ledger, &forged.tx),
            h.kernel_secret() * b_blinding,
            "the forged outputs balance"
        );
        let with = |value_j: u64, rng: &mut ChaCha20Rng| {
            let mut values = h.values.clone();
            values[i] = stolen;
            values[j] = value_j;
            prove(&values, &h.blindings, rng)
        };
        let proofs = [
            ("a proof for 0 instead of -1", with(0, &mut rng)),
            ("a proof for 2^64-1 instead of -1", with(u64::MAX, &mut rng)),
            (
                "a proof for the honest values",
                prove(&h.values, &h.blindings, &mut rng),
            ),
            ("the original proof", h.spend().range_proof.clone().unwrap()),
        ];
        for (what, proof) in proofs {
            let mut forged = forged.clone();
            spend_mut(&mut forged.tx).range_proof = Some(proof);
            pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
            attacks.one(
                &format!("a negative output with {what}"),
                h.shape,
                forged,
                Rejection::BadRangeProof,
            );
        }
        spend_mut(&mut forged.tx).range_proof = None;
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a negative output with no proof",
            h.shape,
            forged,
            Rejection::RangeProofShape,
        );
    }
    // A redeem that burns more than it spends, the excess hidden in negative change.
    for inputs in [1, 3] {
        let h = pool.get(Shape::RedeemWithChange { inputs }, 0);
        let mut forged = h.forge();
        let spend = spend_mut(&mut forged.tx);
        spend.burned = Amount::new(spend.burned.minor_units() + h.values[0] + 1);
        spend.outputs[0].commitment = commit(-Scalar::ONE, h.blindings[0]);
        spend.range_proof = Some(prove(&[0], &h.blindings, &mut rng));
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a redeem burning more than it spends, with negative change",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
    }

    // A redeem whose burned amount is off by one either way: unbalanced, and with
    // the excess recomputed, unsignable.
    for shape in [
        Shape::RedeemWithChange { inputs: 1 },
        Shape::RedeemWhole { inputs: 1 },
        Shape::RedeemWhole { inputs: 2 },
    ] {
        let h = pool.get(shape, 0);
        for burned in [
            h.spend().burned.minor_units() - 1,
            h.spend().burned.minor_units() + 1,
        ] {
            let mut forged = h.forge();
            spend_mut(&mut forged.tx).burned = Amount::new(burned);
            pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
            attacks.one(
                &format!("a redeem burning {burned}"),
                shape,
                forged.clone(),
                Rejection::Unbalanced,
            );
            let excess = public_excess(&pool.ledger, &forged.tx);
            spend_mut(&mut forged.tx).kernel.excess = excess_of(excess);
            pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
            attacks.one(
                &format!("a redeem burning {burned}, excess recomputed"),
                shape,
                forged,
                Rejection::BadKernelSignature,
            );
        }
    }

    // Kernel signatures that are not for this transaction.
    for h in [
        pool.transfer(10),
        pool.get(Shape::RedeemWhole { inputs: 1 }, 0),
    ] {
        let other = pool.get(h.shape, 1);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).kernel.signature = other.spend().kernel.signature;
        attacks.one(
            "another transaction's kernel signature",
            h.shape,
            forged,
            Rejection::BadKernelSignature,
        );
    }
    {
        let h = pool.transfer(14);
        let mut forged = h.forge();
        let digest = forged.tx.digest();
        spend_mut(&mut forged.tx).kernel.signature =
            pool.bank.spend.sign(Purpose::Kernel, &digest, &mut rng);
        attacks.one(
            "a kernel signature by the sender's spend key",
            h.shape,
            forged,
            Rejection::BadKernelSignature,
        );
    }

    // Owner signatures: another key, swapped, from another transaction, for another
    // purpose.
    for (shape, index) in [
        (Shape::Transfer { outputs: 1 }, 0),
        (Shape::Consolidation { inputs: 3 }, 2),
        (Shape::RedeemWhole { inputs: 2 }, 1),
        (Shape::Consolidation { inputs: 16 }, 9),
    ] {
        let h = pool.get(shape, 0);
        let mut forged = h.forge();
        let digest = forged.tx.digest();
        spend_mut(&mut forged.tx).owner_signatures[index] =
            pool.alice
                .spend
                .sign(Purpose::Owner, &owner_message(&digest, index), &mut rng);
        attacks.one(
            &format!("input {index} signed by a key that does not own it"),
            shape,
            forged,
            Rejection::BadOwnerSignature { index },
        );
    }
    for shape in [
        Shape::Consolidation { inputs: 2 },
        Shape::Consolidation { inputs: 3 },
        Shape::RedeemWhole { inputs: 2 },
    ] {
        let h = pool.get(shape, 0);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).owner_signatures.swap(0, 1);
        attacks.one(
            "owner signatures swapped",
            shape,
            forged,
            Rejection::BadOwnerSignature { index: 0 },
        );
    }
    for shape in [
        Shape::Consolidation { inputs: 2 },
        Shape::RedeemWithChange { inputs: 3 },
    ] {
        let h = pool.get(shape, 0);
        let other = pool.get(shape, 1);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).owner_signatures[1] = other.spend().owner_signatures[1];
        attacks.one(
            "an owner signature from another transaction",
            shape,
            forged,
            Rejection::BadOwnerSignature { index: 1 },
        );
    }
    for h in [
        pool.transfer(4),
        pool.get(Shape::RedeemWhole { inputs: 1 }, 0),
    ] {
        let mut forged = h.forge();
        let digest = forged.tx.digest();
        spend_mut(&mut forged.tx).owner_signatures[0] =
            pool.bank
                .spend
                .sign(Purpose::Request, &owner_message(&digest, 0), &mut rng);
        attacks.one(
            "an owner signature made for another purpose",
            h.shape,
            forged,
            Rejection::BadOwnerSignature { index: 0 },
        );
    }

    // Inputs: the same note twice, a spent note, a note that does not exist.
    for (shape, copied, index) in [
        (Shape::Consolidation { inputs: 2 }, 0, 1),
        (Shape::Consolidation { inputs: 16 }, 3, 15),
    ] {
        let h = pool.get(shape, 0);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).inputs[index] = h.spend().inputs[copied];
        forged.inputs[index] = forged.inputs[copied].clone();
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "an input spent twice in one transaction",
            shape,
            forged,
            Rejection::DuplicateInput { index },
        );
    }
    for (shape, index) in [
        (Shape::Consolidation { inputs: 3 }, 1),
        (Shape::Transfer { outputs: 1 }, 0),
    ] {
        let h = pool.get(shape, 0);
        let mut spent = h.forge();
        spent.inputs[index].as_mut().unwrap().spent = true;
        attacks.one(
            "a spent input",
            shape,
            spent,
            Rejection::SpentInput { index },
        );
        let mut unknown = h.forge();
        unknown.inputs[index] = None;
        attacks.one(
            "an unknown input",
            shape,
            unknown,
            Rejection::UnknownInput { index },
        );
    }

    // Structure.
    {
        let h = pool.transfer(2);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).outputs.clear();
        spend_mut(&mut forged.tx).range_proof = None;
        attacks.one(
            "a transfer with no outputs",
            h.shape,
            forged,
            Rejection::NoOutputs,
        );
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).burned = Amount::new(1);
        attacks.one(
            "a transfer that burns",
            h.shape,
            forged,
            Rejection::BurnInTransfer,
        );
        let mut forged = h.forge();
        let signature = h.spend().owner_signatures[0];
        spend_mut(&mut forged.tx).owner_signatures.push(signature);
        attacks.one(
            "an extra owner signature",
            h.shape,
            forged,
            Rejection::OwnerSignatureCount,
        );
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).inputs.clear();
        spend_mut(&mut forged.tx).owner_signatures.clear();
        forged.inputs.clear();
        attacks.one("a spend of nothing", h.shape, forged, Rejection::NoInputs);
        let h = pool.transfer(16);
        let mut forged = h.forge();
        let output = h.spend().outputs[0].clone();
        spend_mut(&mut forged.tx).outputs.push(output);
        attacks.one("17 outputs", h.shape, forged, Rejection::TooManyOutputs);
        let h = pool.get(Shape::RedeemWithChange { inputs: 1 }, 0);
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).burned = Amount::ZERO;
        attacks.one(
            "a redeem burning nothing",
            h.shape,
            forged,
            Rejection::ZeroAmount,
        );
    }

    // The padding: a transaction of n outputs proves n.next_power_of_two() values,
    // the verifier filling the slots past n with the identity. A proof whose padding
    // slot holds anything else, or whose padding sits between outputs, is refused.
    for outputs in [3, 11] {
        let h = pool.transfer(outputs);
        let m = outputs.next_power_of_two();
        let mut values = h.values.clone();
        let mut blindings = h.blindings.clone();
        values.resize(m, 0);
        blindings.resize(m, Scalar::ZERO);
        let tricks: [(&str, Vec<u64>, Vec<Scalar>); 2] = [
            ("a zero with a blinding", values.clone(), {
                let mut b = blindings.clone();
                b[m - 1] = Scalar::random(&mut rng);
                b
            }),
            (
                "a value with no blinding",
                {
                    let mut v = values.clone();
                    v[m - 1] = 5;
                    v
                },
                blindings.clone(),
            ),
        ];
        for (what, values, blindings) in tricks {
            let mut forged = h.forge();
            spend_mut(&mut forged.tx).range_proof = Some(prove(&values, &blindings, &mut rng));
            pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
            attacks.one(
                &format!("a padding slot proven as {what}"),
                h.shape,
                forged,
                Rejection::BadRangeProof,
            );
        }
    }
    {
        let h = pool.transfer(3);
        // The padding between outputs: values [v₀, v₁, 0, v₂].
        let values = vec![h.values[0], h.values[1], 0, h.values[2]];
        let blindings = vec![h.blindings[0], h.blindings[1], Scalar::ZERO, h.blindings[2]];
        let mut forged = h.forge();
        spend_mut(&mut forged.tx).range_proof = Some(prove(&values, &blindings, &mut rng));
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "the padding proven between outputs",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
        // A fourth output slipped into the padding slot of a 3-output proof: a zero
        // the sender blinds, balanced by the kernel.
        let rho = Scalar::random(&mut rng);
        let mut forged = h.forge();
        let mut extra = h.spend().outputs[0].clone();
        extra.commitment = commitment_of(rho * b_blinding);
        spend_mut(&mut forged.tx).outputs.push(extra);
        spend_mut(&mut forged.tx).kernel.excess = excess_of((h.kernel_secret() - rho) * b_blinding);
        pool.resign(&mut forged, &(h.kernel_secret() - rho), &mut rng);
        attacks.one(
            "a fourth output in the padding slot, 3-output proof kept",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
        // A fourth output worth 1 in the slot, the value taken from the first.
        let mut forged = h.forge();
        let mut extra = h.spend().outputs[0].clone();
        extra.commitment = commitment_of(b);
        spend_mut(&mut forged.tx).outputs.push(extra);
        spend_mut(&mut forged.tx).outputs[0].commitment =
            commit(Scalar::from(h.values[0] - 1), h.blindings[0]);
        pool.resign(&mut forged, &h.kernel_secret(), &mut rng);
        attacks.one(
            "a fourth output of 1 unblinded in the padding slot",
            h.shape,
            forged,
            Rejection::BadRangeProof,
        );
    }

    // Errors that cancel in an unweighted sum: a batch that only added the checks
    // up would accept these, so the weights must be random.
    {
        let delta = Scalar::random(&mut rng);
        let (h1, h2) = (pool.transfer(2), pool.transfer(6));
        let mut first = h1.forge();
        let mut second = h2.forge();
        let k1 = spend(&first.tx).kernel.signature;
        let k2 = spend(&second.tx).kernel.signature;
        spend_mut(&mut first.tx).kernel.signature = shifted(&k1, &delta);
        spend_mut(&mut second.tx).kernel.signature = shifted(&k2, &-delta);
        attacks.pair(
            "kernel signatures off by +d and -d in two transactions",
            [first, second],
            Rejection::BadKernelSignature,
        );
        let (h1, h2) = (
            pool.transfer(1),
            pool.get(Shape::RedeemWhole { inputs: 1 }, 0),
        );
        let mut first = h1.forge();
        let mut second = h2.forge();
        let o1 = spend(&first.tx).owner_signatures[0];
        let o2 = spend(&second.tx).owner_signatures[0];
        spend_mut(&mut first.tx).owner_signatures[0] = shifted(&o1, &delta);
        spend_mut(&mut second.tx).owner_signatures[0] = shifted(&o2, &-delta);
        attacks.pair(
            "owner signatures off by +d and -d in two transactions",
            [first, second],
            Rejection::BadOwnerSignature { index: 0 },
        );
        let h = pool.get(Shape::Consolidation { inputs: 2 }, 0);
        let mut forged = h.forge();
        let spend = spend_mut(&mut forged.tx);
        spend.owner_signatures[0] = shifted(&spend.owner_signatures[0], &delta);
        spend.owner_signatures[1] = shifted(&spend.owner_signatures[1], &-delta);
        attacks.one(
            "owner signatures off by +d and -d in one transaction",
            h.shape,
            forged,
            Rejection::BadOwnerSignature { index: 0 },
        );
        // Two valid proofs, each put on the other transaction of the same shape.
        for outputs in [4, 13] {
            let (h1, h2) = (
                pool.transfer(outputs),
                pool.get(pool.transfer(outputs).shape, 1),
            );
            let mut first = h1.forge();
            let mut second = h2.forge();
            spend_mut(&mut first.tx).range_proof = h2.spend().range_proof.clone();
            spend_mut(&mut second.tx).range_proof = h1.spend().range_proof.clone();
            pool.resign(&mut first, &h1.kernel_secret(), &mut rng);
            pool.resign(&mut second, &h2.kernel_secret(), &mut rng);
            attacks.pair(
                &format!("range proofs swapped between two transactions of {outputs} outputs"),
                [first, second],
                Rejection::BadRangeProof,
            );
        }
    }

    // Issues are verified one by one in a batch; a forged one still fails.
    {
        let Transaction::Issue(issue) = &pool.issue.tx else {
            unreachable!("the pool's issue")
        };
        let mut more = issue.clone();
        more.outputs[0].value = Amount::new(1_000_000);
        attacks.issue(
            "an issue of more than the officers approved",
            more,
            Rejection::BadOfficerSignature { index: 0 },
        );
        let mut fewer = issue.clone();
        fewer.officer_signatures.truncate(1);
        attacks.issue(
            "an issue one officer short",
            fewer,
            Rejection::TooFewOfficers { have: 1, need: 2 },
        );
    }

    for attack in &attacks.0 {
        for (entry, expected) in attack.forged.iter().zip(&attack.expected) {
            assert_eq!(
                verify(&entry.tx, &entry.inputs, pool.policy()),
                Err(*expected),
                "{}: verify",
                attack.name
            );
        }
    }
    attacks.0
}

/// The attacks as they are made.
#[derive(Default)]
struct Forgeries(Vec<Attack>);

impl Forgeries {
    fn one(&mut self, name: &str, shape: Shape, forged: Entry, expected: Rejection) {
        self.0.push(Attack {
            name: format!("{name} ({shape:?})"),
            forged: vec![forged],
            expected: vec![expected],
        });
    }

    /// Two forgeries that belong in one batch (errors that cancel, or each made
    /// with the other's parts), both with the same rejection.
    fn pair(&mut self, name: &str, forged: [Entry; 2], expected: Rejection) {
        self.0.push(Attack {
            name: name.to_owned(),
            forged: forged.into(),
            expected: vec![expected; 2],
        });
    }

    fn issue(&mut self, name: &str, issue: Issue, expected: Rejection) {
        self.0.push(Attack {
            name: name.to_owned(),
            forged: vec![Entry {
                tx: Transaction::Issue(issue),
                inputs: Vec::new(),
            }],
            expected: vec![expected],
        });
    }
}

/// `signature` with `s + delta` in place of `s`.
fn shifted(signature: &Signature, delta: &Scalar) -> Signature {
    let mut bytes = signature.to_bytes();
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[32..]);
    let s = Scalar::from_canonical_bytes(s).unwrap() + delta;
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature::from_bytes(&bytes).unwrap()
}

/// Rejections that only the proofs and signatures find: the ones the batch's
/// multiscalar check must catch, and bisection isolate.
fn caught_by_the_proofs(rejection: &Rejection) -> bool {
    matches!(
        rejection,
        Rejection::BadKernelSignature
            | Rejection::BadOwnerSignature { .. }
            | Rejection::BadRangeProof
    )
}

/// Where in a batch a forgery goes.
#[derive(Debug, Clone, Copy)]
enum Position {
    First,
    Middle,
    Last,
}

impl Position {
    const ALL: [Position; 3] = [Position::First, Position::Middle, Position::Last];

    fn index(self, size: usize) -> usize {
        match self {
            Position::First => 0,
            Position::Middle => size / 2,
            Position::Last => size - 1,
        }
    }
}

/// The batch sizes every forgery is tried in alone among honest transactions.
const SIZES_ALONE: [usize; 4] = [2, 3, 7, 16];
/// The batch size every forgery is tried in with three others.
const CROWD: usize = 64;

/// A batch of `size`: the `placed` entries at their indices, honest fillers
/// (starting at filler `offset`) everywhere else, with what `verify` gives each.
fn assemble<'a>(
    pool: &'a Pool,
    size: usize,
    placed: &[(usize, &'a Entry, Rejection)],
    offset: usize,
) -> Vec<(&'a Entry, Result<(), Rejection>)> {
    let fillers = pool.fillers();
    let mut next_filler = offset;
    (0..size)
        .map(
            |index| match placed.iter().find(|(at, _, _)| *at == index) {
                Some((_, entry, rejection)) => (*entry, Err(*rejection)),
                None => {
                    next_filler += 1;
                    (fillers[next_filler % fillers.len()], Ok(()))
                }
            },
        )
        .collect()
}

/// Runs `batch` through `verify_batch_report` and checks each transaction's answer
/// and that bisection isolated the culprits instead of checking everyone alone.
fn check(
    pool: &Pool,
    batch: &[(&Entry, Result<(), Rejection>)],
    rng: &mut ChaCha20Rng,
    what: &str,
) -> BatchReport {
    let items: Vec<(&Transaction, &[Option<StoredNote>])> = batch
        .iter()
        .map(|(entry, _)| (&entry.tx, entry.inputs.as_slice()))
        .collect();
    let report = verify_batch_report(&items, pool.policy(), rng);
    let expected: Vec<Result<(), Rejection>> = batch.iter().map(|(_, r)| *r).collect();
    assert_eq!(report.results, expected, "{what}");

    let issues = batch
        .iter()
        .filter(|(entry, _)| matches!(entry.tx, Transaction::Issue(_)))
        .count();
    let culprits = expected
        .iter()
        .filter(|r| r.as_ref().is_err_and(caught_by_the_proofs))
        .count();
    let spends_checked_together = expected
        .iter()
        .zip(batch)
        .filter(|(r, (entry, _))| {
            !matches!(entry.tx, Transaction::Issue(_))
                && r.as_ref().err().is_none_or(caught_by_the_proofs)
        })
        .count();
    // Each culprit costs at most one check alone per bisection level, plus its own;
    // a spend left alone after the cheap checks has no partner to batch with.
    let levels = usize::try_from(batch.len().next_power_of_two().trailing_zeros()).unwrap();
    let lone = usize::from(spends_checked_together == 1);
    assert!(
        report.single_checks <= issues + lone + culprits * (levels + 1),
        "{what}: {culprits} culprits cost {} single checks ({report:?})",
        report.single_checks
    );
    if spends_checked_together >= 2 {
        assert!(report.multiscalar_checks >= 1, "{what}: {report:?}");
    }
    if culprits == 0 && spends_checked_together >= 2 {
        assert_eq!(
            (report.multiscalar_checks, report.single_checks),
            (1, issues),
            "{what}: honest spends pass in one check"
        );
    }
    report
}

#[test]
fn honest_batches_of_every_shape_pass_in_one_multiscalar_check() {
    let pool = pool();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let fillers = pool.fillers().len();
    for size in SIZES_ALONE.into_iter().chain([CROWD, fillers]) {
        for offset in [0, 5, 11] {
            let batch = assemble(pool, size, &[], offset);
            check(
                pool,
                &batch,
                &mut rng,
                &format!("{size} honest from {offset}"),
            );
        }
    }
    // Only redeems without outputs: signatures and no range proof at all.
    let whole: Vec<(&Entry, Result<(), Rejection>)> = pool
        .honest
        .iter()
        .filter(|h| matches!(h.shape, Shape::RedeemWhole { .. }))
        .map(|h| (&h.entry, Ok(())))
        .collect();
    assert_eq!(whole.len(), 2 * COPIES);
    check(pool, &whole, &mut rng, "redeems without outputs");
}

#[test]
fn every_attack_among_honest_transactions_gets_the_rejection_verify_gives_it() {
    let pool = pool();
    let attacks = attacks();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut outputs_seen = [false; OUTPUTS_MAX + 1];
    let mut see = |batch: &[(&Entry, Result<(), Rejection>)]| {
        for (entry, _) in batch.iter().filter(|(_, r)| r.is_ok()) {
            if let Transaction::Transfer(spend) | Transaction::Redeem(spend) = &entry.tx {
                outputs_seen[spend.outputs.len()] = true;
            }
        }
    };
    for (a, attack) in attacks.iter().enumerate() {
        for (s, &size) in SIZES_ALONE.iter().enumerate() {
            if size < attack.forged.len() + 1 {
                continue;
            }
            // First, in the middle or last, turn by turn over the sizes: every
            // attack takes every position and every size sees every position.
            // (Every position at every size would triple the run time: a culprit
            // costs a few checks alone, tens of milliseconds each.)
            let position = Position::ALL[(a + s) % 3];
            let at = position.index(size);
            // A pair goes at its position and the next (wrapping).
            let placed: Vec<(usize, &Entry, Rejection)> = attack
                .forged
                .iter()
                .zip(&attack.expected)
                .enumerate()
                .map(|(k, (entry, rejection))| ((at + k) % size, entry, *rejection))
                .collect();
            let batch = assemble(pool, size, &placed, 7 * a + s);
            see(&batch);
            check(
                pool,
                &batch,
                &mut rng,
                &format!("{} at {position:?} of {size}", attack.name),
            );
        }
    }
    // Batches of 64 with four attacks each: first, a quarter in, in the middle and
    // last (a pair takes the next place, or the one before at the end).
    let spots = [0, CROWD / 4, CROWD / 2, CROWD - 1];
    for (c, crowd) in attacks.chunks(spots.len()).enumerate() {
        let mut placed = Vec::new();
        for (attack, spot) in crowd.iter().zip(spots) {
            for (k, (entry, rejection)) in attack.forged.iter().zip(&attack.expected).enumerate() {
                let at = if spot == CROWD - 1 {
                    spot - k
                } else {
                    spot + k
                };
                placed.push((at, entry, *rejection));
            }
        }
        let batch = assemble(pool, CROWD, &placed, 3 * c);
        see(&batch);
        let names: Vec<&str> = crowd.iter().map(|a| a.name.as_str()).collect();
        check(pool, &batch, &mut rng, &format!("{names:?} in {CROWD}"));
    }
    assert!(
        outputs_seen.iter().all(|seen| *seen),
        "batches held transactions of every output count: {outputs_seen:?}"
    );
}

#[test]
fn two_different_attacks_in_one_batch_each_get_their_own_rejection() {
    let pool = pool();
    let attacks: Vec<&Attack> = attacks().iter().filter(|a| a.forged.len() == 1).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    // Pairs far apart in the list are of different kinds.
    let n = attacks.len();
    for k in 0..n {
        let (first, second) = (attacks[k], attacks[(k + n / 2 + 1) % n]);
        let size = [2, 3, 7, 16, CROWD][k % 5];
        let (i, j) = match k % 3 {
            0 => (0, size - 1),
            1 => (size / 2, 0),
            _ => (size - 1, size / 2),
        };
        let (i, j) = if i == j { (0, 1) } else { (i, j) };
        let placed = [
            (i, &first.forged[0], first.expected[0]),
            (j, &second.forged[0], second.expected[0]),
        ];
        let batch = assemble(pool, size, &placed, k);
        check(
            pool,
            &batch,
            &mut rng,
            &format!("{} at {i} and {} at {j} of {size}", first.name, second.name),
        );
    }
}

#[test]
fn a_batch_of_only_a_forged_pair_fails_its_multiscalar_check() {
    // If the one check let the pair through (errors cancelling in the sum), both
    // would be accepted without being checked alone.
    let pool = pool();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    for attack in attacks().iter().filter(|a| a.forged.len() == 2) {
        let placed: Vec<(usize, &Entry, Rejection)> = attack
            .forged
            .iter()
            .zip(&attack.expected)
            .enumerate()
            .map(|(k, (entry, rejection))| (k, entry, *rejection))
            .collect();
        let batch = assemble(pool, 2, &placed, 0);
        let report = check(pool, &batch, &mut rng, &attack.name);
        assert_eq!(
            (report.multiscalar_checks, report.single_checks),
            (1, 2),
            "{}: the pair fails together, then each alone",
            attack.name
        );
    }
}

/// The output commitments of `spend`, padded with the identity as the ledger pads.
fn padded(spend: &Spend) -> Vec<CompressedRistretto> {
    let m = spend.outputs.len().next_power_of_two();
    let mut padded: Vec<CompressedRistretto> = spend
        .outputs
        .iter()
        .map(|o| CompressedRistretto(o.commitment.to_bytes()))
        .collect();
    padded.resize(m, CompressedRistretto([0u8; 32]));
    padded
}

/// What `bulletproofs` says of `bytes` as a proof for `commitments`.
fn bulletproofs_accepts(bytes: &[u8], commitments: &[CompressedRistretto]) -> bool {
    RangeProof::from_bytes(bytes).is_ok_and(|proof| {
        proof
            .verify_multiple(
                bulletproof_gens(),
                pedersen_gens(),
                &mut Transcript::new(b"cbdc.rangeproof.v1"),
                commitments,
                64,
            )
            .is_ok()
    })
}

#[test]
fn identity_points_posing_as_padding_are_refused_before_verification() {
    // The verifier's padding is the identity; a transaction cannot carry one.
    let pool = pool();
    let h = pool.transfer(3);
    let mut encoding = h.entry.tx.encode();
    let commitment = h.spend().outputs[2].commitment.to_bytes();
    let at = encoding
        .windows(32)
        .position(|w| w == commitment.as_slice())
        .expect("the commitment is in the encoding");
    encoding[at..at + 32].copy_from_slice(&[0u8; 32]);
    assert!(
        matches!(
            Transaction::decode(&encoding),
            Err(DecodeError::BadPoint {
                error: PointError::Identity,
                ..
            })
        ),
        "{:?}",
        Transaction::decode(&encoding)
    );
    assert_eq!(
        Commitment::from_bytes(&[0u8; 32]),
        Err(PointError::Identity)
    );
    // Nor can a proof point or a signature's R be the identity.
    let proof = h.spend().range_proof.as_ref().unwrap().as_bytes().to_vec();
    for chunk in [0, 1, 2, 3, 7, 8] {
        let mut bytes = proof.clone();
        bytes[32 * chunk..32 * chunk + 32].copy_from_slice(&[0u8; 32]);
        assert_eq!(
            AggregateRangeProof::from_bytes(&bytes).err(),
            Some(RangeProofFormatError::Point),
            "chunk {chunk}"
        );
        assert!(!bulletproofs_accepts(&bytes, &padded(h.spend())));
    }
    let mut signature = h.spend().kernel.signature.to_bytes();
    signature[..32].copy_from_slice(&[0u8; 32]);
    assert_eq!(
        Signature::from_bytes(&signature),
        Err(SignatureError::Malformed)
    );
}

/// A random tampering of an honest spend, as its author could make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tamper {
    /// One bit of the range proof flipped (retried until the proof still parses).
    FlipProofBit,
    SwapOutputs,
    /// An output re-blinded by `δ·B̃`, the excess moved by `−δ·B̃` to balance.
    Reblind,
    /// An output worth one more.
    BumpValue,
    /// The proof of the other transaction of the same output count.
    SwapProof,
    /// A proof of another aggregation size.
    ForeignShapeProof,
    DropOutput,
    KernelSignature,
    OwnerSignature,
    SpentInput,
    UnknownInput,
}

const TAMPERS: [Tamper; 11] = [
    Tamper::FlipProofBit,
    Tamper::SwapOutputs,
    Tamper::Reblind,
    Tamper::BumpValue,
    Tamper::SwapProof,
    Tamper::ForeignShapeProof,
    Tamper::DropOutput,
    Tamper::KernelSignature,
    Tamper::OwnerSignature,
    Tamper::SpentInput,
    Tamper::UnknownInput,
];

/// Applies `tamper` to a copy of `h` if it applies to its shape; the author
/// re-signs afterwards three times in four, so the proofs are reached.
fn tampered(
    pool: &Pool,
    h: &Honest,
    tamper: Tamper,
    rng: &mut ChaCha20Rng,
    flips_refused_at_parse: &mut usize,
) -> Option<Entry> {
    let outputs = h.spend().outputs.len();
    let inputs = h.spend().inputs.len();
    let mut forged = h.forge();
    let mut e = h.kernel_secret();
    match tamper {
        Tamper::FlipProofBit => {
            let proof = h.spend().range_proof.as_ref()?;
            let mut tries = 0;
            let flipped = loop {
                let mut bytes = proof.as_bytes().to_vec();
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
                match AggregateRangeProof::from_bytes(&bytes) {
                    Ok(parsed) => break parsed,
                    Err(_) => {
                        // The ledger refuses it at decode; bulletproofs must too.
                        assert!(!bulletproofs_accepts(&bytes, &padded(h.spend())));
                        *flips_refused_at_parse += 1;
                        tries += 1;
                        if tries == 16 {
                            return None;
                        }
                    }
                }
            };
            spend_mut(&mut forged.tx).range_proof = Some(flipped);
        }
        Tamper::SwapOutputs => {
            if outputs < 2 {
                return None;
            }
            let i = rng.gen_range(0..outputs);
            let j = (i + rng.gen_range(1..outputs)) % outputs;
            spend_mut(&mut forged.tx).outputs.swap(i, j);
        }
        Tamper::Reblind => {
            if outputs == 0 {
                return None;
            }
            let i = rng.gen_range(0..outputs);
            let delta = Scalar::random(rng);
            let b_blinding = pedersen_gens().B_blinding;
            let output = &mut spend_mut(&mut forged.tx).outputs[i];
            output.commitment =
                commitment_of(point(output.commitment.as_bytes()) + delta * b_blinding);
            e -= delta;
            spend_mut(&mut forged.tx).kernel.excess = excess_of(e * b_blinding);
        }
        Tamper::BumpValue => {
            if outputs == 0 {
                return None;
            }
            let i = rng.gen_range(0..outputs);
            let output = &mut spend_mut(&mut forged.tx).outputs[i];
            output.commitment =
                commitment_of(point(output.commitment.as_bytes()) + pedersen_gens().B);
        }
        Tamper::SwapProof => {
            let other = pool.get(h.shape, (h.copy + 1) % COPIES);
            other.spend().range_proof.as_ref()?;
            spend_mut(&mut forged.tx).range_proof = other.spend().range_proof.clone();
        }
        Tamper::ForeignShapeProof => {
            if outputs == 0 {
                return None;
            }
            let m = outputs.next_power_of_two();
            let other = pool
                .honest
                .iter()
                .filter(|o| {
                    o.spend()
                        .range_proof
                        .as_ref()
                        .is_some_and(|p| p.parties() != m)
                })
                .nth(rng.gen_range(0..8))?;
            spend_mut(&mut forged.tx).range_proof = other.spend().range_proof.clone();
        }
        Tamper::DropOutput => {
            if outputs < 2 {
                return None;
            }
            let i = rng.gen_range(0..outputs);
            spend_mut(&mut forged.tx).outputs.remove(i);
        }
        Tamper::KernelSignature => {
            let signature = h.spend().kernel.signature;
            spend_mut(&mut forged.tx).kernel.signature = shifted(&signature, &Scalar::ONE);
            return Some(forged);
        }
        Tamper::OwnerSignature => {
            let index = rng.gen_range(0..inputs);
            let digest = forged.tx.digest();
            spend_mut(&mut forged.tx).owner_signatures[index] =
                pool.alice
                    .spend
                    .sign(Purpose::Owner, &owner_message(&digest, index), rng);
            return Some(forged);
        }
        Tamper::SpentInput => {
            let index = rng.gen_range(0..inputs);
            forged.inputs[index].as_mut().unwrap().spent = true;
            return Some(forged);
        }
        Tamper::UnknownInput => {
            let index = rng.gen_range(0..inputs);
            forged.inputs[index] = None;
            return Some(forged);
        }
    }
    if rng.gen_range(0..4) != 0 {
        pool.resign(&mut forged, &e, rng);
    }
    Some(forged)
}

#[test]
fn random_tamperings_get_from_the_batch_what_verify_and_bulletproofs_give_them() {
    let pool = pool();
    let mut rng = ChaCha20Rng::seed_from_u64(0xd1ff);
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut tampers: BTreeMap<Tamper, usize> = BTreeMap::new();
    let mut proofs_compared = [0usize; 2];
    let mut flips_refused_at_parse = 0;
    for round in 0..24 {
        let size = rng.gen_range(2..=20);
        let entries: Vec<Entry> = (0..size)
            .map(|_| {
                let h = &pool.honest[rng.gen_range(0..pool.honest.len())];
                if rng.gen_range(0..5) < 2 {
                    return h.forge();
                }
                loop {
                    let tamper = TAMPERS[rng.gen_range(0..TAMPERS.len())];
                    if let Some(forged) =
                        tampered(pool, h, tamper, &mut rng, &mut flips_refused_at_parse)
                    {
                        *tampers.entry(tamper).or_default() += 1;
                        break forged;
                    }
                }
            })
            .collect();
        let items: Vec<(&Transaction, &[Option<StoredNote>])> = entries
            .iter()
            .map(|e| (&e.tx, e.inputs.as_slice()))
            .collect();
        let single: Vec<Result<(), Rejection>> = items
            .iter()
            .map(|(tx, inputs)| verify(tx, inputs, pool.policy()))
            .collect();
        let report = verify_batch_report(&items, pool.policy(), &mut rng);
        assert_eq!(report.results, single, "round {round}");
        for result in &single {
            *outcomes
                .entry(result.err().map_or("ok", |r| r.code()))
                .or_default() += 1;
        }

        // The range proofs alone, each and all together, against bulletproofs.
        let proven: Vec<(&AggregateRangeProof, Vec<CompressedRistretto>)> = entries
            .iter()
            .filter_map(|e| {
                let spend = spend(&e.tx);
                let proof = spend.range_proof.as_ref()?;
                // A proof of the wrong size is refused before either verifier sees it.
                (proof.parties() == padded(spend).len()).then(|| (proof, padded(spend)))
            })
            .collect();
        let mut all_theirs = true;
        for (proof, commitments) in &proven {
            let theirs = bulletproofs_accepts(proof.as_bytes(), commitments);
            let ours = verify_range_proofs(&[(*proof, commitments.as_slice())], &mut rng);
            assert_eq!(ours, theirs, "round {round}: a range proof alone");
            proofs_compared[usize::from(theirs)] += 1;
            all_theirs &= theirs;
        }
        let together: Vec<(&AggregateRangeProof, &[CompressedRistretto])> =
            proven.iter().map(|(p, c)| (*p, c.as_slice())).collect();
        assert_eq!(
            verify_range_proofs(&together, &mut rng),
            all_theirs,
            "round {round}: the range proofs together"
        );
    }
    // Not a vacuous comparison: every kind of answer came up.
    for code in [
        "ok",
        "bad_range_proof",
        "bad_kernel_signature",
        "bad_owner_signature",
        "unbalanced",
        "range_proof_shape",
        "spent_input",
        "unknown_input",
    ] {
        assert!(outcomes.contains_key(code), "no {code} in {outcomes:?}");
    }
    assert_eq!(tampers.len(), TAMPERS.len(), "{tampers:?}");
    assert!(
        proofs_compared[0] > 10 && proofs_compared[1] > 10,
        "{proofs_compared:?} proofs rejected and accepted"
    );
    assert!(flips_refused_at_parse > 0);
}
