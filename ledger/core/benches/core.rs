//! What the ledger core costs: building, verifying and decoding a one-input,
//! two-output transfer; the same transfer's range proof verified by `bulletproofs`
//! alone, as a baseline that shows its share of verification; and the supply audit
//! over 100 000 unspent notes and 50 000 kernels read as stored bytes.
//!
//! Run with `cargo bench -p ledger-core --bench core`; results are in BENCHMARKS.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use ledger_core::commitment::{bulletproof_gens, pedersen_gens};
use ledger_core::tx::PublicBlinding;
use ledger_core::*;
use merlin::Transcript;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::time::Duration;

const AUDIT_NOTES: usize = 100_000;
const AUDIT_KERNELS: usize = 50_000;

/// A bank with one issued note, the ledger's view of it, and Alice.
struct Setup {
    rng: ChaCha20Rng,
    bank: WalletKeys,
    alice: WalletKeys,
    note: OwnedNote,
    stored: StoredNote,
    policy: IssuancePolicy,
}

fn setup() -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let officer = SecretKey::generate(&mut rng);
    let bank = WalletKeys::generate(&mut rng);
    let alice = WalletKeys::generate(&mut rng);
    let mut issue = build_issue(
        IssueReference([1; 32]),
        &[(bank.spend.public_key(), Amount::new(1_000_000))],
        &mut rng,
    )
    .unwrap();
    issue.sign(&officer, &mut rng);
    let tx = Transaction::Issue(issue.clone());
    let created = tx.created_notes().remove(0);
    Setup {
        rng,
        note: issue.owned_notes().remove(0),
        stored: StoredNote {
            owner: created.owner,
            commitment: created.commitment,
            spent: false,
        },
        policy: IssuancePolicy {
            officers: vec![officer.public_key()],
            threshold: 1,
        },
        bank,
        alice,
    }
}

fn transfer(s: &mut Setup) -> Built {
    build_transfer(
        std::slice::from_ref(&s.bank.spend),
        std::slice::from_ref(&s.note),
        &[Payment {
            to: s.alice.address(),
            amount: Amount::new(250_000),
        }],
        &s.bank.address(),
        &mut s.rng,
    )
    .unwrap()
}

fn transfer_benches(c: &mut Criterion) {
    let mut s = setup();
    let built = transfer(&mut s);
    let Transaction::Transfer(spend) = &built.tx else {
        unreachable!()
    };
    assert_eq!((spend.inputs.len(), spend.outputs.len()), (1, 2));
    let inputs = [Some(s.stored.clone())];
    verify(&built.tx, &inputs, &s.policy).unwrap();
    let bytes = built.tx.encode();

    // The baseline: the transfer's own range proof, as `verify` checks it.
    let proof =
        bulletproofs::RangeProof::from_bytes(spend.range_proof.as_ref().unwrap().as_bytes())
            .unwrap();
    let commitments: Vec<CompressedRistretto> = spend
        .outputs
        .iter()
        .map(|o| CompressedRistretto(o.commitment.to_bytes()))
        .collect();
    let verify_range_proof = || {
        proof.verify_multiple(
            bulletproof_gens(),
            pedersen_gens(),
            &mut Transcript::new(b"cbdc.rangeproof.v1"),
            black_box(&commitments),
            64,
        )
    };
    verify_range_proof().unwrap();

    let mut group = c.benchmark_group("transfer_1in_2out");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("build", |b| b.iter(|| transfer(&mut s)));
    group.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&built.tx), &inputs, &s.policy).unwrap())
    });
    group.bench_function("bulletproofs_verify_multiple_2_values", |b| {
        b.iter(|| verify_range_proof().unwrap())
    });
    group.bench_function("decode", |b| {
        b.iter(|| Transaction::decode(black_box(&bytes)).unwrap())
    });
    group.finish();
}

/// A consistent ledger export: `AUDIT_NOTES` commitments `vᵢ·B + rᵢ·B̃`,
/// `AUDIT_KERNELS` excesses `eⱼ·B̃`, as stored bytes, and the issuance totals
/// `(Σ vᵢ, Σ rᵢ + Σ eⱼ)` that make the audit equation hold.
struct Export {
    notes: Vec<[u8; 32]>,
    kernels: Vec<[u8; 32]>,
    issued: Amount,
    issued_blinding: Scalar,
}

fn export() -> Export {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let table = RistrettoBasepointTable::create(&pedersen_gens().B_blinding);
    let mut issued = 0u64;
    let mut blinding = Scalar::ZERO;
    let notes = (0..AUDIT_NOTES)
        .map(|_| {
            let v: u64 = rng.gen_range(1..1_000_000_000);
            let r = Scalar::random(&mut rng);
            issued += v;
            blinding += r;
            (RistrettoPoint::mul_base(&Scalar::from(v)) + &table * &r)
                .compress()
                .to_bytes()
        })
        .collect();
    let kernels = (0..AUDIT_KERNELS)
        .map(|_| {
            let e = Scalar::random(&mut rng);
            blinding += e;
            (&table * &e).compress().to_bytes()
        })
        .collect();
    Export {
        notes,
        kernels,
        issued: Amount::new(issued),
        issued_blinding: blinding,
    }
}

fn audit(export: &Export) -> Result<Supply, AuditError> {
    let mut audit = SupplyAudit::new();
    for note in &export.notes {
        audit.add_unspent_bytes(note)?;
    }
    for kernel in &export.kernels {
        audit.add_kernel_bytes(kernel)?;
    }
    audit.add_issued(export.issued, &PublicBlinding(export.issued_blinding));
    audit.finish()
}

fn audit_benches(c: &mut Criterion) {
    let export = export();
    let supply = audit(&export).unwrap();
    assert_eq!(supply.unspent_notes, 100_000);
    let mut group = c.benchmark_group("supply_audit");
    group.sample_size(10);
    group.bench_function("100k_notes_50k_kernels_from_bytes", |b| {
        b.iter(|| audit(black_box(&export)).unwrap())
    });
    group.finish();
}

/// Verification of 64 transfers: one by one (the baseline) and in one batch.
fn batch_benches(c: &mut Criterion) {
    let mut s = setup();
    let txs: Vec<Transaction> = (0..64).map(|_| transfer(&mut s).tx).collect();
    let inputs = vec![Some(s.stored.clone())];
    let items: Vec<(&Transaction, &[Option<StoredNote>])> =
        txs.iter().map(|tx| (tx, inputs.as_slice())).collect();
    let mut group = c.benchmark_group("verify 64 transfers");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("one by one (verify)", |b| {
        b.iter(|| {
            for (tx, inputs) in &items {
                verify(black_box(tx), inputs, &s.policy).unwrap();
            }
        })
    });
    let mut rng = ChaCha20Rng::seed_from_u64(64);
    group.bench_function("batch (verify_batch)", |b| {
        b.iter(|| {
            let results = verify_batch(black_box(&items), &s.policy, &mut rng);
            assert!(results.iter().all(Result::is_ok));
        })
    });
    group.finish();

    // What a batch costs per transfer as it grows: the ledger's batches are
    // as large as its load makes them.
    let mut group = c.benchmark_group("verify_batch per size");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    let more: Vec<Transaction> = (64..256).map(|_| transfer(&mut s).tx).collect();
    let all: Vec<(&Transaction, &[Option<StoredNote>])> = items
        .iter()
        .copied()
        .chain(more.iter().map(|tx| (tx, inputs.as_slice())))
        .collect();
    for size in [1usize, 4, 16, 64, 256] {
        group.throughput(criterion::Throughput::Elements(size as u64));
        group.bench_function(format!("{size}"), |b| {
            b.iter(|| {
                let results = verify_batch(black_box(&all[..size]), &s.policy, &mut rng);
                assert!(results.iter().all(Result::is_ok));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transfer_benches, audit_benches, batch_benches);
criterion_main!(benches);
