//! Memos as a recipient meets them: only the addressed view key opens a memo,
//! any change to it makes it unreadable, and a memo that lies about the amount
//! (which the ledger cannot see) is caught by the recipient's check against the
//! commitment, so the payee never counts money it did not get.

mod common;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use common::*;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use ledger_core::memo::MEMO_LEN;
use ledger_core::*;
use merlin::Transcript;

struct Paid {
    fx: Fixture,
    bank: WalletKeys,
    alice: WalletKeys,
    note: OwnedNote,
    built: Built,
    /// Index of Alice's output.
    hers: usize,
}

fn paid(seed: u64) -> Paid {
    let mut fx = Fixture::new(seed);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let note = fx.issue(&bank, &[1000]).remove(0);
    let built = build_transfer(
        std::slice::from_ref(&bank.spend),
        std::slice::from_ref(&note),
        &[Payment {
            to: alice.address(),
            amount: Amount::new(300),
        }],
        &bank.address(),
        &mut fx.rng,
    )
    .unwrap();
    let hers = built.outputs.iter().position(|o| !o.change).unwrap();
    Paid {
        fx,
        bank,
        alice,
        note,
        built,
        hers,
    }
}

fn output(p: &Paid, index: usize) -> ledger_core::tx::Output {
    spend(&p.built.tx).outputs[index].clone()
}

#[test]
fn only_the_addressed_view_key_opens_a_memo() {
    let mut p = paid(1);
    let hers = output(&p, p.hers);
    let opening = hers.memo.open(&p.alice.view, &hers.commitment).unwrap();
    assert_eq!(opening.value(), Amount::new(300));
    assert!(opening.opens(&hers.commitment));
    let mallory = p.fx.wallet();
    for wrong in [&p.bank.view, &mallory.view, &p.alice.spend] {
        assert_eq!(
            hers.memo.open(wrong, &hers.commitment),
            Err(MemoError::DoesNotDecrypt)
        );
    }
    let change = output(&p, 1 - p.hers);
    assert_eq!(
        change
            .memo
            .open(&p.bank.view, &change.commitment)
            .unwrap()
            .value(),
        Amount::new(700)
    );
    // A memo moved to another output does not open there.
    assert_eq!(
        hers.memo.open(&p.alice.view, &change.commitment),
        Err(MemoError::DoesNotDecrypt)
    );
}

#[test]
fn any_change_to_a_memo_makes_it_unreadable() {
    let p = paid(2);
    let hers = output(&p, p.hers);
    let bytes = hers.memo.to_bytes();
    let mut opened = 0;
    for position in 0..MEMO_LEN {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut changed = bytes;
            changed[position] ^= mask;
            // The ephemeral key (bytes 0..32) may no longer be a point at all.
            if let Ok(memo) = Memo::from_bytes(&changed) {
                assert_eq!(
                    memo.open(&p.alice.view, &hers.commitment),
                    Err(MemoError::DoesNotDecrypt),
                    "byte {position} ^ {mask:#04x}"
                );
                opened += 1;
            } else {
                assert!(position < 32);
            }
        }
    }
    assert!(opened >= 3 * (MEMO_LEN - 32));
}

#[test]
fn a_memo_that_lies_about_the_amount_is_caught_by_the_recipient() {
    // The payer commits 300 to Alice but tells her 3000. The ledger cannot read
    // memos, so the transaction is valid; Alice's wallet refuses to count it.
    let mut p = paid(3);
    let hers = p.hers;
    let commitment = output(&p, hers).commitment;
    let honest = &p.built.outputs[hers].opening;
    let lie = Opening::new(Amount::new(3000), *honest.blinding());
    let mut tx = p.built.tx.clone();
    spend_mut(&mut tx).outputs[hers].memo =
        Memo::seal(&p.alice.view.public_key(), &commitment, &lie, &mut p.fx.rng);
    let blindings: Vec<Scalar> = p
        .built
        .outputs
        .iter()
        .map(|o| *o.opening.blinding())
        .collect();
    let e = kernel_secret(&[&p.note], &blindings);
    resign(&mut tx, &e, &[&p.bank.spend], &mut p.fx.rng);
    assert_eq!(p.fx.ledger.verify(&tx), Ok(()));
    let memo = spend(&tx).outputs[hers].memo;
    assert_eq!(
        memo.open(&p.alice.view, &commitment),
        Err(MemoError::Mismatch)
    );
}

/// Seals `plaintext` as `Memo::seal` does (see the `memo` module docs), so a test
/// can encrypt what the crate's API never would.
fn seal_raw(view: &PublicKey, commitment: &Commitment, plaintext: &[u8; 40], k: Scalar) -> Memo {
    let ephemeral = RistrettoPoint::mul_base(&k).compress();
    let shared = (k * point(view.as_bytes())).compress();
    let mut t = Transcript::new(b"cbdc.memo.v1");
    t.append_message(b"shared", shared.as_bytes());
    t.append_message(b"K", ephemeral.as_bytes());
    t.append_message(b"V", view.as_bytes());
    t.append_message(b"C", commitment.as_bytes());
    let mut key = [0u8; 32];
    t.challenge_bytes(b"key", &mut key);
    let sealed = ChaCha20Poly1305::new(&key.into())
        .encrypt(
            &[0u8; 12].into(),
            Payload {
                msg: plaintext,
                aad: commitment.as_bytes(),
            },
        )
        .unwrap();
    let mut bytes = [0u8; MEMO_LEN];
    bytes[..32].copy_from_slice(ephemeral.as_bytes());
    bytes[32..].copy_from_slice(&sealed);
    Memo::from_bytes(&bytes).unwrap()
}

#[test]
fn a_memo_with_a_non_canonical_blinding_is_malformed() {
    let mut p = paid(4);
    let hers = output(&p, p.hers);
    let opening = p.built.outputs[p.hers].opening.clone();
    let view = p.alice.view.public_key();
    let k = Scalar::random(&mut p.fx.rng);
    let mut plaintext = [0u8; 40];
    plaintext[..8].copy_from_slice(&300u64.to_le_bytes());
    plaintext[8..].copy_from_slice(opening.blinding().as_bytes());
    // The same construction with the true opening opens: the layout is right.
    let memo = seal_raw(&view, &hers.commitment, &plaintext, k);
    assert_eq!(
        memo.open(&p.alice.view, &hers.commitment),
        Ok(opening.clone())
    );
    // ℓ + blinding is the same scalar mod ℓ, but not its canonical encoding.
    let mut wide = [0u8; 32];
    let mut carry = 0u16;
    let l = (Scalar::ZERO - Scalar::ONE).to_bytes(); // ℓ − 1
    let b = opening.blinding().to_bytes();
    for i in 0..32 {
        let sum = u16::from(l[i]) + u16::from(b[i]) + carry + u16::from(i == 0);
        wide[i] = u8::try_from(sum & 0xff).unwrap();
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "blinding + ℓ fits in 256 bits");
    plaintext[8..].copy_from_slice(&wide);
    let memo = seal_raw(&view, &hers.commitment, &plaintext, k);
    assert_eq!(
        memo.open(&p.alice.view, &hers.commitment),
        Err(MemoError::Malformed)
    );
}
