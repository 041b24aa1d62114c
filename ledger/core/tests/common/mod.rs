//! Shared fixtures for the ledger core's integration tests.
//!
//! [`Ledger`] is a small in-memory ledger (notes by id with a spent flag, kernels,
//! issued outputs, redeemed total) that verifies a transaction before it applies
//! it, as the service does. [`Fixture`] adds seeded randomness and the central
//! bank's officers. The rest are the tools of an attacker who owns the inputs and
//! knows every opening: proving ranges for values of its choice and re-signing a
//! tampered spend (kernel and owner signatures), so that a test can make every
//! check pass but the one it is about.

#![allow(dead_code)]

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use ledger_core::commitment::{bulletproof_gens, pedersen_gens};
use ledger_core::tx::AggregateRangeProof;
use ledger_core::*;
use merlin::Transcript;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;

/// An in-memory ledger that verifies before it applies.
pub struct Ledger {
    pub notes: HashMap<NoteId, StoredNote>,
    pub kernels: Vec<Excess>,
    pub issued: Vec<IssueOutput>,
    pub redeemed: Amount,
    pub policy: IssuancePolicy,
}

impl Ledger {
    pub fn new(policy: IssuancePolicy) -> Ledger {
        Ledger {
            notes: HashMap::new(),
            kernels: Vec::new(),
            issued: Vec::new(),
            redeemed: Amount::ZERO,
            policy,
        }
    }

    /// What the store holds for each input of `tx`, aligned with `tx.inputs()`.
    pub fn inputs(&self, tx: &Transaction) -> Vec<Option<StoredNote>> {
        tx.inputs()
            .iter()
            .map(|id| self.notes.get(id).cloned())
            .collect()
    }

    pub fn verify(&self, tx: &Transaction) -> Result<(), Rejection> {
        verify(tx, &self.inputs(tx), &self.policy)
    }

    /// Verifies `tx`, then spends its inputs and records its notes and kernel.
    pub fn submit(&mut self, tx: &Transaction) -> Result<(), Rejection> {
        self.verify(tx)?;
        for id in tx.inputs() {
            self.notes.get_mut(id).expect("verified input").spent = true;
        }
        for note in tx.created_notes() {
            let previous = self.notes.insert(
                note.id,
                StoredNote {
                    owner: note.owner,
                    commitment: note.commitment,
                    spent: false,
                },
            );
            assert!(previous.is_none(), "note id collision");
        }
        match tx {
            Transaction::Issue(issue) => self.issued.extend(issue.outputs.iter().cloned()),
            Transaction::Transfer(spend) => self.kernels.push(spend.kernel.excess),
            Transaction::Redeem(spend) => {
                self.kernels.push(spend.kernel.excess);
                self.redeemed = self.redeemed.checked_add(spend.burned).unwrap();
            }
            Transaction::Governance(_) => {}
        }
        Ok(())
    }

    pub fn unspent(&self) -> impl Iterator<Item = (&NoteId, &StoredNote)> {
        self.notes.iter().filter(|(_, n)| !n.spent)
    }

    /// The audit accumulator over the whole ledger, not yet finished.
    pub fn audit(&self) -> SupplyAudit {
        let mut audit = SupplyAudit::new();
        for (_, note) in self.unspent() {
            audit.add_unspent(&note.commitment);
        }
        for kernel in &self.kernels {
            audit.add_kernel(kernel);
        }
        for output in &self.issued {
            audit.add_issuance(output);
        }
        audit.add_redemption(self.redeemed);
        audit
    }
}

/// Seeded randomness, three officers (two must sign) and an empty ledger.
pub struct Fixture {
    pub rng: ChaCha20Rng,
    pub officers: Vec<SecretKey>,
    pub ledger: Ledger,
    issues: u8,
}

impl Fixture {
    pub fn new(seed: u64) -> Fixture {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let officers: Vec<SecretKey> = (0..3).map(|_| SecretKey::generate(&mut rng)).collect();
        let policy = IssuancePolicy {
            officers: officers.iter().map(|k| k.public_key()).collect(),
            threshold: 2,
        };
        Fixture {
            rng,
            officers,
            ledger: Ledger::new(policy),
            issues: 0,
        }
    }

    pub fn wallet(&mut self) -> WalletKeys {
        WalletKeys::generate(&mut self.rng)
    }

    /// An issue of `amounts` to `to`, signed by officers 0 and 1, not yet submitted.
    pub fn signed_issue(&mut self, to: &PublicKey, amounts: &[u64]) -> Issue {
        self.issues += 1;
        let outputs: Vec<(PublicKey, Amount)> =
            amounts.iter().map(|&a| (*to, Amount::new(a))).collect();
        let mut issue = build_issue(IssueReference([self.issues; 32]), &outputs, &mut self.rng)
            .expect("valid issue");
        issue.sign(&self.officers[0], &mut self.rng);
        issue.sign(&self.officers[1], &mut self.rng);
        issue
    }

    /// Issues `amounts` to `to` and returns the notes as `to` owns them.
    pub fn issue(&mut self, to: &WalletKeys, amounts: &[u64]) -> Vec<OwnedNote> {
        let issue = self.signed_issue(&to.spend.public_key(), amounts);
        self.ledger
            .submit(&Transaction::Issue(issue.clone()))
            .expect("issue verifies");
        issue.owned_notes()
    }
}

pub fn spend(tx: &Transaction) -> &Spend {
    match tx {
        Transaction::Transfer(spend) | Transaction::Redeem(spend) => spend,
        Transaction::Issue(_) | Transaction::Governance(_) => panic!("not a spend"),
    }
}

pub fn spend_mut(tx: &mut Transaction) -> &mut Spend {
    match tx {
        Transaction::Transfer(spend) | Transaction::Redeem(spend) => spend,
        Transaction::Issue(_) | Transaction::Governance(_) => panic!("not a spend"),
    }
}

pub fn point(bytes: &[u8; 32]) -> RistrettoPoint {
    CompressedRistretto(*bytes)
        .decompress()
        .expect("valid point")
}

pub fn commitment_of(point: RistrettoPoint) -> Commitment {
    Commitment::from_bytes(&point.compress().to_bytes()).expect("not the identity")
}

pub fn excess_of(point: RistrettoPoint) -> Excess {
    Excess::from_bytes(&point.compress().to_bytes()).expect("not the identity")
}

/// `v·B + r·B̃` for any scalar `v`, negative ones included.
pub fn commit(v: Scalar, r: Scalar) -> Commitment {
    commitment_of(pedersen_gens().commit(v, r))
}

/// `Σ C_in − Σ C_out − u·B`, computed from the transaction and the stored inputs.
pub fn public_excess(ledger: &Ledger, tx: &Transaction) -> RistrettoPoint {
    let spend = spend(tx);
    let inputs: RistrettoPoint = tx
        .inputs()
        .iter()
        .map(|id| point(ledger.notes[id].commitment.as_bytes()))
        .sum();
    let outputs: RistrettoPoint = spend
        .outputs
        .iter()
        .map(|o| point(o.commitment.as_bytes()))
        .sum();
    inputs - outputs - pedersen_gens().B * Scalar::from(spend.burned.minor_units())
}

/// The message input `index`'s owner signs: `digest ‖ index as u32 LE`.
pub fn owner_message(digest: &[u8; 32], index: usize) -> [u8; 36] {
    let mut message = [0u8; 36];
    message[..32].copy_from_slice(digest);
    message[32..].copy_from_slice(&u32::try_from(index).unwrap().to_le_bytes());
    message
}

/// A Schnorr signature over `B̃` with secret `e`, exactly as the crate's kernel
/// signature is defined (`cbdc.schnorr.v1`, purpose `kernel`). The public key in the
/// challenge is `e·B̃`; it verifies only if that is the kernel's excess.
pub fn kernel_signature(e: &Scalar, message: &[u8], rng: &mut ChaCha20Rng) -> Signature {
    let g = pedersen_gens().B_blinding;
    let public = (e * g).compress();
    let k = Scalar::random(rng);
    let r = (k * g).compress();
    let mut t = Transcript::new(b"cbdc.schnorr.v1");
    t.append_message(b"purpose", b"kernel");
    t.append_message(b"G", g.compress().as_bytes());
    t.append_message(b"P", public.as_bytes());
    t.append_message(b"message", message);
    t.append_message(b"R", r.as_bytes());
    let mut wide = [0u8; 64];
    t.challenge_bytes(b"c", &mut wide);
    let c = Scalar::from_bytes_mod_order_wide(&wide);
    let s = k + c * e;
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r.as_bytes());
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature::from_bytes(&bytes).expect("canonical")
}

/// Re-signs a (tampered) spend as its author would: a kernel signature with the
/// attacker's `e` and owner signatures by `owners[i]` for input `i`.
pub fn resign(tx: &mut Transaction, e: &Scalar, owners: &[&SecretKey], rng: &mut ChaCha20Rng) {
    let digest = tx.digest();
    let kernel = kernel_signature(e, &digest, rng);
    let spend = spend_mut(tx);
    spend.kernel.signature = kernel;
    assert_eq!(owners.len(), spend.inputs.len());
    for (index, owner) in owners.iter().enumerate() {
        spend.owner_signatures[index] =
            owner.sign(Purpose::Owner, &owner_message(&digest, index), rng);
    }
}

/// An aggregated proof for `values` with `blindings`, padded like the crate pads
/// (zero values with zero blindings up to a power of two), on the crate's
/// transcript. It verifies only against commitments to exactly these values.
pub fn prove(values: &[u64], blindings: &[Scalar], rng: &mut ChaCha20Rng) -> AggregateRangeProof {
    let m = values.len().next_power_of_two();
    let mut values = values.to_vec();
    let mut blindings = blindings.to_vec();
    values.resize(m, 0);
    blindings.resize(m, Scalar::ZERO);
    let mut transcript = Transcript::new(b"cbdc.rangeproof.v1");
    let (proof, _) = bulletproofs::RangeProof::prove_multiple_with_rng(
        bulletproof_gens(),
        pedersen_gens(),
        &mut transcript,
        &values,
        &blindings,
        64,
        rng,
    )
    .expect("proves");
    AggregateRangeProof::from_bytes(&proof.to_bytes()).expect("well formed")
}

/// `Σ r_in − Σ r_out` for a built spend: the kernel secret its author knows.
pub fn kernel_secret(inputs: &[&OwnedNote], outputs: &[Scalar]) -> Scalar {
    let r_in: Scalar = inputs.iter().map(|n| n.opening.blinding()).sum();
    let r_out: Scalar = outputs.iter().sum();
    r_in - r_out
}
