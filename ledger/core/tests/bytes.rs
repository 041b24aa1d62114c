//! Every single-byte change of a valid encoded transaction is refused: by
//! `Transaction::decode` (the bytes are not a transaction) or by `verify` (they
//! are one, but not an authorised, balanced one). Every byte position of one
//! transaction of each shape is changed with several XOR masks: not a sample.

mod common;

use common::*;
use ledger_core::*;

const MASKS: [u8; 4] = [0x01, 0x10, 0x80, 0xff];

/// What the ledger holds before the four transactions: a bank with notes.
struct Shapes {
    fx: Fixture,
    issue: Transaction,
    transfer: Transaction,
    redeem_with_change: Transaction,
    redeem_without_change: Transaction,
}

fn shapes() -> Shapes {
    let mut fx = Fixture::new(2024);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[1000, 2000]);
    let keys = [bank.spend.clone()];
    let issue = Transaction::Issue(fx.signed_issue(&bank.spend.public_key(), &[10, 20]));
    let transfer = build_transfer(
        &keys,
        &notes[1..],
        &[Payment {
            to: alice.address(),
            amount: Amount::new(300),
        }],
        &bank.address(),
        &mut fx.rng,
    )
    .unwrap()
    .tx;
    let redeem_with_change = build_redeem(
        &keys,
        &notes[1..],
        Amount::new(500),
        &bank.address(),
        &mut fx.rng,
    )
    .unwrap()
    .tx;
    let redeem_without_change = build_redeem(
        &keys,
        &notes[..1],
        Amount::new(1000),
        &bank.address(),
        &mut fx.rng,
    )
    .unwrap()
    .tx;
    assert_eq!(spend(&transfer).outputs.len(), 2);
    assert_eq!(spend(&redeem_with_change).outputs.len(), 1);
    assert_eq!(spend(&redeem_without_change).outputs.len(), 0);
    Shapes {
        fx,
        issue,
        transfer,
        redeem_with_change,
        redeem_without_change,
    }
}

fn every_byte_change_is_refused(ledger: &Ledger, tx: &Transaction) {
    let valid = tx.encode();
    assert_eq!(
        ledger.verify(&Transaction::decode(&valid).unwrap()),
        Ok(()),
        "the unchanged transaction is valid"
    );
    let mut decoded_but_refused = 0;
    for position in 0..valid.len() {
        for mask in MASKS {
            let mut bytes = valid.clone();
            bytes[position] ^= mask;
            if let Ok(changed) = Transaction::decode(&bytes) {
                assert_eq!(changed.encode(), bytes, "decoding is canonical");
                let verdict = ledger.verify(&changed);
                assert!(
                    verdict.is_err(),
                    "byte {position} ^ {mask:#04x} of a {} is accepted",
                    tx.kind().as_str()
                );
                decoded_but_refused += 1;
            }
        }
    }
    // Most changes (memo bytes, amounts, ids, some point bytes) still decode: the
    // verdict above came from `verify`, not only from the decoder.
    assert!(
        decoded_but_refused > valid.len() / 10,
        "{decoded_but_refused}"
    );
}

#[test]
fn every_byte_of_an_issue() {
    let s = shapes();
    every_byte_change_is_refused(&s.fx.ledger, &s.issue);
}

#[test]
fn every_byte_of_a_transfer() {
    let s = shapes();
    every_byte_change_is_refused(&s.fx.ledger, &s.transfer);
}

#[test]
fn every_byte_of_a_redeem_with_change() {
    let s = shapes();
    every_byte_change_is_refused(&s.fx.ledger, &s.redeem_with_change);
}

#[test]
fn every_byte_of_a_redeem_without_change() {
    let s = shapes();
    every_byte_change_is_refused(&s.fx.ledger, &s.redeem_without_change);
}
