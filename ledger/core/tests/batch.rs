//! Batch verification agrees with `bulletproofs` and with one-by-one verification.
//!
//! Differential: for valid proofs of 1, 2, 4 and 16 values and for every tampering
//! of each (every point of the proof replaced by another valid point, every scalar
//! replaced by another canonical scalar, each commitment replaced, the proof checked
//! under another transcript), `batch::verify_range_proofs` on the single proof and
//! `RangeProof::verify_multiple` must give the same answer. Then whole batches of
//! transactions with bad ones mixed in: `verify_batch` must give each transaction
//! exactly what `verify` gives it.

use bulletproofs::RangeProof;
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use ledger_core::batch::{verify_batch_report, verify_range_proofs};
use ledger_core::commitment::{bulletproof_gens, pedersen_gens};
use ledger_core::tx::{range_proof_len, AggregateRangeProof};
use ledger_core::*;
use merlin::Transcript;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn prove(
    values: &[u64],
    rng: &mut ChaCha20Rng,
    domain: &'static [u8],
) -> (Vec<u8>, Vec<CompressedRistretto>) {
    let blindings: Vec<Scalar> = values.iter().map(|_| Scalar::random(rng)).collect();
    let (proof, commitments) = RangeProof::prove_multiple_with_rng(
        bulletproof_gens(),
        pedersen_gens(),
        &mut Transcript::new(domain),
        values,
        &blindings,
        64,
        rng,
    )
    .unwrap();
    (proof.to_bytes(), commitments)
}

fn reference(bytes: &[u8], commitments: &[CompressedRistretto]) -> bool {
    let proof = RangeProof::from_bytes(bytes).unwrap();
    proof
        .verify_multiple(
            bulletproof_gens(),
            pedersen_gens(),
            &mut Transcript::new(b"cbdc.rangeproof.v1"),
            commitments,
            64,
        )
        .is_ok()
}

fn ours(bytes: &[u8], commitments: &[CompressedRistretto], rng: &mut ChaCha20Rng) -> Option<bool> {
    // A tampered proof may no longer parse (e.g. an identity point); then neither
    // verifier can accept it and the ledger refuses it at decode.
    let proof = AggregateRangeProof::from_bytes(bytes).ok()?;
    Some(verify_range_proofs(&[(&proof, commitments)], rng))
}

#[test]
fn single_proofs_agree_with_bulletproofs_on_valid_and_tampered() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xba7c);
    let mut compared = 0usize;
    let mut rejected = 0usize;
    // 40 proofs of 1 to 16 values, about 1,100 comparisons in all.
    let sizes = (0..40).map(|i| match i % 10 {
        9 => 4,
        0 if i == 0 => 16,
        k if k % 2 == 0 => 1,
        _ => 2,
    });
    for (case, m) in sizes.enumerate() {
        let values: Vec<u64> = (0..m)
            .map(|i| match (case + i) % 3 {
                0 => rng.gen(),
                1 => u64::MAX,
                _ => 0,
            })
            .collect();
        let (bytes, commitments) = prove(&values, &mut rng, b"cbdc.rangeproof.v1");
        assert_eq!(bytes.len(), range_proof_len(m));
        assert!(reference(&bytes, &commitments));
        assert_eq!(ours(&bytes, &commitments, &mut rng), Some(true));
        compared += 1;

        let chunks = bytes.len() / 32;
        let rounds = chunks - 9;
        for chunk in 0..chunks {
            let is_point = chunk < 4 || (7..7 + rounds).contains(&chunk);
            let mut tampered = bytes.clone();
            let replacement = if is_point {
                (RISTRETTO_BASEPOINT_POINT * Scalar::random(&mut rng))
                    .compress()
                    .to_bytes()
            } else {
                Scalar::random(&mut rng).to_bytes()
            };
            tampered[32 * chunk..32 * chunk + 32].copy_from_slice(&replacement);
            let theirs = reference(&tampered, &commitments);
            assert!(
                !theirs,
                "tampering chunk {chunk} still verifies with bulletproofs"
            );
            assert_eq!(
                ours(&tampered, &commitments, &mut rng),
                Some(theirs),
                "m={m} chunk {chunk}"
            );
            compared += 1;
            rejected += 1;
        }
        for j in 0..m {
            let mut wrong = commitments.clone();
            wrong[j] = (RISTRETTO_BASEPOINT_POINT * Scalar::random(&mut rng)).compress();
            assert!(!reference(&bytes, &wrong));
            assert_eq!(
                ours(&bytes, &wrong, &mut rng),
                Some(false),
                "m={m} commitment {j}"
            );
            compared += 1;
        }
        if m > 1 {
            let mut swapped = commitments.clone();
            swapped.swap(0, 1);
            let theirs = reference(&bytes, &swapped);
            assert_eq!(ours(&bytes, &swapped, &mut rng), Some(theirs));
            compared += 1;
        }
        // A proof made under another transcript.
        let (other, other_commitments) = prove(&values, &mut rng, b"another.domain");
        assert!(!reference(&other, &other_commitments));
        assert_eq!(ours(&other, &other_commitments, &mut rng), Some(false));
        compared += 1;
    }
    assert!(
        compared > 200 && rejected > 150,
        "{compared} compared, {rejected} tampered"
    );
}

#[test]
fn a_batch_of_valid_proofs_verifies_and_one_bad_proof_fails_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xba7d);
    // Mixed sizes: the proofs share one inversion and the generators' coefficients,
    // so each must find its own inverses and spans (8 values is in no other test).
    let proofs: Vec<(AggregateRangeProof, Vec<CompressedRistretto>)> = (0..12)
        .map(|i| {
            let m = [1, 2, 4, 8][i % 4];
            let values: Vec<u64> = (0..m).map(|_| rng.gen()).collect();
            let (bytes, commitments) = prove(&values, &mut rng, b"cbdc.rangeproof.v1");
            (
                AggregateRangeProof::from_bytes(&bytes).unwrap(),
                commitments,
            )
        })
        .collect();
    let all: Vec<(&AggregateRangeProof, &[CompressedRistretto])> =
        proofs.iter().map(|(p, c)| (p, c.as_slice())).collect();
    assert!(verify_range_proofs(&all, &mut rng));
    for bad in 0..all.len() {
        let mut wrong = proofs[bad].1.clone();
        wrong[0] = (RISTRETTO_BASEPOINT_POINT * Scalar::random(&mut rng)).compress();
        let mut batch = all.clone();
        batch[bad] = (&proofs[bad].0, wrong.as_slice());
        assert!(
            !verify_range_proofs(&batch, &mut rng),
            "bad proof {bad} hidden in the batch"
        );
    }
}

/// A small ledger: a bank with many notes, so transfers can be built in bulk.
fn funded(
    rng: &mut ChaCha20Rng,
    notes: usize,
) -> (WalletKeys, Vec<OwnedNote>, Vec<(NoteId, StoredNote)>) {
    let bank = WalletKeys::generate(rng);
    let outputs: Vec<(PublicKey, Amount)> = (0..notes)
        .map(|_| (bank.spend.public_key(), Amount::new(1_000)))
        .collect();
    let mut owned = Vec::new();
    let mut stored = Vec::new();
    for chunk in outputs.chunks(16) {
        let issue = build_issue(IssueReference(rng.gen()), chunk, rng).unwrap();
        let tx = Transaction::Issue(issue.clone());
        for (note, created) in issue.owned_notes().into_iter().zip(tx.created_notes()) {
            stored.push((
                note.id,
                StoredNote {
                    owner: created.owner,
                    commitment: created.commitment,
                    spent: false,
                },
            ));
            owned.push(note);
        }
    }
    (bank, owned, stored)
}

#[test]
fn verify_batch_gives_every_transaction_what_verify_gives_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xba7e);
    let (bank, owned, stored) = funded(&mut rng, 40);
    let lookup = |id: &NoteId| stored.iter().find(|(n, _)| n == id).map(|(_, s)| s.clone());
    let customer = WalletKeys::generate(&mut rng);
    let mut txs: Vec<Transaction> = Vec::new();
    for (i, note) in owned.iter().enumerate() {
        let built = build_transfer(
            std::slice::from_ref(&bank.spend),
            std::slice::from_ref(note),
            &[Payment {
                to: customer.address(),
                amount: Amount::new(1 + u64::try_from(i).unwrap()),
            }],
            &bank.address(),
            &mut rng,
        )
        .unwrap();
        txs.push(built.tx);
    }
    // Spoil some in different ways: the bad ones must be found, the good ones kept.
    let spoil = |tx: &mut Transaction, how: usize, rng: &mut ChaCha20Rng| {
        let Transaction::Transfer(spend) = tx else {
            unreachable!()
        };
        match how {
            0 => spend.owner_signatures[0] = bank.view.sign(Purpose::Owner, b"x", rng),
            1 => spend.kernel.signature = bank.spend.sign(Purpose::Kernel, b"x", rng),
            2 => {
                // Another transaction's proof: well-formed, wrong for these outputs.
                let other = build_transfer(
                    std::slice::from_ref(&bank.spend),
                    &owned[..1],
                    &[Payment {
                        to: customer.address(),
                        amount: Amount::new(5),
                    }],
                    &bank.address(),
                    rng,
                )
                .unwrap();
                let Transaction::Transfer(o) = other.tx else {
                    unreachable!()
                };
                spend.range_proof = o.range_proof;
            }
            _ => spend.inputs[0] = NoteId([9; 32]),
        }
    };
    for (k, i) in [3usize, 4, 17, 30, 31, 39].iter().enumerate() {
        spoil(&mut txs[*i], k % 4, &mut rng);
    }
    let inputs: Vec<Vec<Option<StoredNote>>> = txs
        .iter()
        .map(|tx| tx.inputs().iter().map(lookup).collect())
        .collect();
    let items: Vec<(&Transaction, &[Option<StoredNote>])> = txs
        .iter()
        .zip(&inputs)
        .map(|(t, i)| (t, i.as_slice()))
        .collect();
    let policy = IssuancePolicy {
        officers: vec![],
        threshold: 1,
    };
    let batch = verify_batch_report(&items, &policy, &mut rng);
    let single: Vec<Result<(), Rejection>> =
        items.iter().map(|(t, i)| verify(t, i, &policy)).collect();
    assert_eq!(batch.results, single);
    assert_eq!(
        single.iter().filter(|r| r.is_err()).count(),
        6,
        "{single:?}"
    );
    // The unknown input is caught before the batch; the 5 others by bisection,
    // which must not fall back to checking every transaction alone.
    assert!(
        batch.single_checks >= 5 && batch.single_checks < 20,
        "{batch:?}"
    );
    // All good: one multiscalar multiplication accepts all, nothing checked alone.
    let good: Vec<(&Transaction, &[Option<StoredNote>])> = items
        .iter()
        .zip(&single)
        .filter(|(_, r)| r.is_ok())
        .map(|(x, _)| *x)
        .collect();
    let report = verify_batch_report(&good, &policy, &mut rng);
    assert!(report.results.iter().all(Result::is_ok));
    assert_eq!(
        (report.multiscalar_checks, report.single_checks),
        (1, 0),
        "{report:?}"
    );
}
