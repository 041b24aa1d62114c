//! Validation from an attacker's side: every way to create money, spend what is
//! not yours or authorise what the officers did not, and the named [`Rejection`]
//! each one gets; and the builder's refusals ([`BuildError`]) for requests that
//! cannot be paid.
//!
//! The strongest attacker here is the sender itself: it owns the inputs and knows
//! every opening, so after tampering it re-proves the ranges and re-signs the
//! kernel and the inputs (see `common`). Each attack is therefore caught by the
//! one check it is about, and the test asserts which.

mod common;

use common::*;
use curve25519_dalek::scalar::Scalar;
use ledger_core::commitment::pedersen_gens;
use ledger_core::tx::{
    OfficerSignature, PublicBlinding, INPUTS_MAX, OFFICER_SIGNATURES_MAX, OUTPUTS_MAX,
};
use ledger_core::*;

/// A bank holding one issued note of 1000, and its valid transfer of 300 to Alice
/// (two outputs: 300 to Alice and 700 change).
struct Scene {
    fx: Fixture,
    bank: WalletKeys,
    alice: WalletKeys,
    note: OwnedNote,
    built: Built,
}

fn scene(seed: u64) -> Scene {
    let mut fx = Fixture::new(seed);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let note = fx.issue(&bank, &[1000]).remove(0);
    let built = pay(
        &mut fx,
        &bank,
        std::slice::from_ref(&note),
        &alice.address(),
        300,
    );
    assert_eq!(fx.ledger.verify(&built.tx), Ok(()));
    Scene {
        fx,
        bank,
        alice,
        note,
        built,
    }
}

fn pay(
    fx: &mut Fixture,
    from: &WalletKeys,
    notes: &[OwnedNote],
    to: &Address,
    amount: u64,
) -> Built {
    build_transfer(
        std::slice::from_ref(&from.spend),
        notes,
        &[Payment {
            to: *to,
            amount: Amount::new(amount),
        }],
        &from.address(),
        &mut fx.rng,
    )
    .expect("builds")
}

/// The output blindings of a built spend, in output order.
fn blindings(built: &Built) -> Vec<Scalar> {
    built
        .outputs
        .iter()
        .map(|o| *o.opening.blinding())
        .collect()
}

fn values(built: &Built) -> Vec<u64> {
    built
        .outputs
        .iter()
        .map(|o| o.opening.value().minor_units())
        .collect()
}

fn alice_index(s: &Scene) -> usize {
    s.built.outputs.iter().position(|o| !o.change).unwrap()
}

#[test]
fn the_attackers_tools_make_a_valid_transaction_when_nothing_is_tampered() {
    // Without this control, the rejections below could come from broken tools.
    let mut s = scene(1);
    let e = kernel_secret(&[&s.note], &blindings(&s.built));
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).range_proof = Some(prove(
        &values(&s.built),
        &blindings(&s.built),
        &mut s.fx.rng,
    ));
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_ne!(tx, s.built.tx);
    assert_eq!(s.fx.ledger.verify(&tx), Ok(()));
}

#[test]
fn a_bigger_output_commitment_is_unbalanced() {
    let s = scene(2);
    let i = alice_index(&s);
    let r = *s.built.outputs[i].opening.blinding();
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).outputs[i].commitment = commit(Scalar::from(1300u64), r);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::Unbalanced));
}

#[test]
fn a_recomputed_excess_without_the_opening_has_no_kernel_signature() {
    let mut s = scene(3);
    let i = alice_index(&s);
    let r = *s.built.outputs[i].opening.blinding();
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).outputs[i].commitment = commit(Scalar::from(1300u64), r);
    // Anyone can make the balance equation hold by recomputing the excess...
    let excess = public_excess(&s.fx.ledger, &tx);
    spend_mut(&mut tx).kernel.excess = excess_of(excess);
    assert_eq!(
        s.fx.ledger.verify(&tx),
        Err(Rejection::BadKernelSignature),
        "the old kernel signature"
    );
    // ...but nobody can sign for it: not with a guessed key,
    let guess = Scalar::random(&mut s.fx.rng);
    resign(&mut tx, &guess, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadKernelSignature));
    // nor the sender, who knows every blinding (the new excess is 1000·B + e·B̃),
    // even with a valid range proof for the new values and valid owner signatures.
    let mut vals = values(&s.built);
    vals[i] = 1300;
    spend_mut(&mut tx).range_proof = Some(prove(&vals, &blindings(&s.built), &mut s.fx.rng));
    let e = kernel_secret(&[&s.note], &blindings(&s.built));
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadKernelSignature));
}

#[test]
fn a_range_proof_from_another_transaction_is_refused() {
    let mut s = scene(4);
    // The same shape (two outputs), another transaction's commitments.
    let other = pay(
        &mut s.fx,
        &s.bank,
        &[s.note.clone()],
        &s.alice.address(),
        10,
    );
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).range_proof = spend(&other.tx).range_proof.clone();
    let e = kernel_secret(&[&s.note], &blindings(&s.built));
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadRangeProof));
}

#[test]
fn a_range_proof_for_other_values_is_refused() {
    let mut s = scene(5);
    let e = kernel_secret(&[&s.note], &blindings(&s.built));
    let mut vals = values(&s.built);
    vals[0] += 1;
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).range_proof = Some(prove(&vals, &blindings(&s.built), &mut s.fx.rng));
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadRangeProof));
    // The outputs in the other order: the proof binds the order too.
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).outputs.swap(0, 1);
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadRangeProof));
}

#[test]
fn a_range_proof_for_the_wrong_number_of_values_is_a_shape_error() {
    let mut s = scene(6);
    let mut tx = s.built.tx.clone();
    let r = blindings(&s.built);
    spend_mut(&mut tx).range_proof = Some(prove(&values(&s.built)[..1], &r[..1], &mut s.fx.rng));
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::RangeProofShape));
    spend_mut(&mut tx).range_proof = Some(prove(&[1, 2, 3], &[r[0], r[1], r[0]], &mut s.fx.rng));
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::RangeProofShape));
    spend_mut(&mut tx).range_proof = None;
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::RangeProofShape));
}

#[test]
fn a_negative_output_balances_and_signs_but_has_no_range_proof() {
    // 1000 in; out: 1001 to Alice and −1 (the scalar ℓ − 1) as change. The
    // equation balances and the sender can sign the kernel: only the range proof
    // stands between this and 1 unit of money from nothing.
    let mut s = scene(7);
    let i = alice_index(&s);
    let change = 1 - i;
    let r = blindings(&s.built);
    let mut tx = s.built.tx.clone();
    spend_mut(&mut tx).outputs[i].commitment = commit(Scalar::from(1001u64), r[i]);
    spend_mut(&mut tx).outputs[change].commitment = commit(-Scalar::ONE, r[change]);
    let e = kernel_secret(&[&s.note], &r);
    assert_eq!(
        public_excess(&s.fx.ledger, &tx),
        e * pedersen_gens().B_blinding,
        "the forged outputs balance"
    );
    let mut attempts = Vec::new();
    let mut with_values = |v: [u64; 2]| {
        let mut vals = [0u64; 2];
        vals[i] = v[0];
        vals[change] = v[1];
        prove(&vals, &r, &mut s.fx.rng)
    };
    attempts.push(("proof for 0 instead of -1", with_values([1001, 0])));
    attempts.push((
        "proof for 2^64-1 instead of -1",
        with_values([1001, u64::MAX]),
    ));
    attempts.push(("proof for the honest values", with_values([300, 700])));
    attempts.push((
        "the original proof",
        spend(&s.built.tx).range_proof.clone().unwrap(),
    ));
    for (what, proof) in attempts {
        spend_mut(&mut tx).range_proof = Some(proof);
        resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
        assert_eq!(
            s.fx.ledger.verify(&tx),
            Err(Rejection::BadRangeProof),
            "{what}"
        );
    }
    spend_mut(&mut tx).range_proof = None;
    resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
    assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::RangeProofShape));
}

#[test]
fn a_redeem_that_burns_more_than_it_spends_is_refused() {
    let mut s = scene(8);
    let built = build_redeem(
        &[s.bank.spend.clone()],
        &[s.note.clone()],
        Amount::new(400),
        &s.bank.address(),
        &mut s.fx.rng,
    )
    .unwrap();
    assert_eq!(s.fx.ledger.verify(&built.tx), Ok(()));
    // 1000 in, 600 change: burning 401 would create a unit, burning 399 would make
    // one vanish from the books while the audit counts it as redeemed.
    for burned in [399, 401] {
        let mut tx = built.tx.clone();
        spend_mut(&mut tx).burned = Amount::new(burned);
        let e = kernel_secret(&[&s.note], &blindings(&built));
        resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
        assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::Unbalanced));
        let excess = public_excess(&s.fx.ledger, &tx);
        spend_mut(&mut tx).kernel.excess = excess_of(excess);
        resign(&mut tx, &e, &[&s.bank.spend], &mut s.fx.rng);
        assert_eq!(s.fx.ledger.verify(&tx), Err(Rejection::BadKernelSignature));
    }
}

#[test]
fn an_input_used_twice_in_one_transaction_is_a_duplicate() {
    let mut fx = Fixture::new(9);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[600, 500]);
    let built = pay(&mut fx, &bank, &notes, &alice.address(), 1000);
    assert_eq!(built.tx.inputs().len(), 2);
    let mut tx = built.tx.clone();
    let first = tx.inputs()[0];
    spend_mut(&mut tx).inputs[1] = first;
    resign(
        &mut tx,
        &Scalar::ONE,
        &[&bank.spend, &bank.spend],
        &mut fx.rng,
    );
    assert_eq!(
        fx.ledger.verify(&tx),
        Err(Rejection::DuplicateInput { index: 1 })
    );
    assert_eq!(
        Transaction::decode(&tx.encode()),
        Err(DecodeError::Structure(Rejection::DuplicateInput {
            index: 1
        }))
    );
    // The builder refuses the same note twice before anything is signed.
    let twice = [notes[0].clone(), notes[0].clone()];
    assert_eq!(
        build_transfer(
            std::slice::from_ref(&bank.spend),
            &twice,
            &[Payment {
                to: alice.address(),
                amount: Amount::new(1)
            }],
            &bank.address(),
            &mut fx.rng
        )
        .unwrap_err(),
        BuildError::DuplicateNote { index: 1 }
    );
}

#[test]
fn a_payer_cannot_spend_the_note_it_paid_even_knowing_its_opening() {
    let mut s = scene(10);
    s.fx.ledger.submit(&s.built.tx).unwrap();
    let i = alice_index(&s);
    // The bank built Alice's note, so it knows the opening; it claims the note.
    let stolen = OwnedNote {
        id: s.built.outputs[i].note,
        owner: s.bank.spend.public_key(),
        opening: s.built.outputs[i].opening.clone(),
    };
    let mallory = s.fx.wallet();
    let theft = pay(&mut s.fx, &s.bank, &[stolen], &mallory.address(), 300);
    assert_eq!(
        s.fx.ledger.verify(&theft.tx),
        Err(Rejection::BadOwnerSignature { index: 0 })
    );
    // Alice can.
    let hers = s.built.outputs[i].owned_note();
    let ok = pay(&mut s.fx, &s.alice, &[hers], &mallory.address(), 300);
    assert_eq!(s.fx.ledger.verify(&ok.tx), Ok(()));
}

#[test]
fn owner_signatures_are_bound_to_their_input_and_transaction() {
    let mut fx = Fixture::new(11);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[600, 500]);
    let built = pay(&mut fx, &bank, &notes, &alice.address(), 1000);
    // Swapped signatures: each is by the right key, for the other index.
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).owner_signatures.swap(0, 1);
    assert_eq!(
        fx.ledger.verify(&tx),
        Err(Rejection::BadOwnerSignature { index: 0 })
    );
    // A signature by the right key over another transaction.
    let other = pay(&mut fx, &bank, &notes, &alice.address(), 999);
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).owner_signatures[1] = spend(&other.tx).owner_signatures[1];
    assert_eq!(
        fx.ledger.verify(&tx),
        Err(Rejection::BadOwnerSignature { index: 1 })
    );
    // A signature by the owner, for another purpose.
    let mut tx = built.tx.clone();
    let digest = tx.digest();
    spend_mut(&mut tx).owner_signatures[0] =
        bank.spend
            .sign(Purpose::Request, &owner_message(&digest, 0), &mut fx.rng);
    assert_eq!(
        fx.ledger.verify(&tx),
        Err(Rejection::BadOwnerSignature { index: 0 })
    );
}

#[test]
fn spent_and_unknown_inputs_are_named_with_their_index() {
    let mut fx = Fixture::new(12);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[600, 500]);
    // Two transactions from the same notes: the second one to arrive is a double spend.
    let first = pay(&mut fx, &bank, &notes[1..], &alice.address(), 100);
    let second = pay(&mut fx, &bank, &notes, &alice.address(), 1100);
    assert_eq!(second.tx.inputs(), &[notes[0].id, notes[1].id]);
    fx.ledger.submit(&first.tx).unwrap();
    assert_eq!(
        fx.ledger.verify(&second.tx),
        Err(Rejection::SpentInput { index: 1 })
    );
    assert_eq!(
        fx.ledger.submit(&first.tx),
        Err(Rejection::SpentInput { index: 0 }),
        "a replay"
    );
    // Spent comes before balance: a tampered replay is still a replay.
    let mut tampered = first.tx.clone();
    spend_mut(&mut tampered).outputs[0].commitment = commit(Scalar::from(5u64), Scalar::ONE);
    assert_eq!(
        fx.ledger.verify(&tampered),
        Err(Rejection::SpentInput { index: 0 })
    );

    let invented = OwnedNote {
        id: NoteId([0xab; 32]),
        owner: bank.spend.public_key(),
        opening: Opening::new(Amount::new(50), Scalar::from(77u64)),
    };
    let fake = pay(
        &mut fx,
        &bank,
        std::slice::from_ref(&invented),
        &alice.address(),
        10,
    );
    assert_eq!(
        fx.ledger.verify(&fake.tx),
        Err(Rejection::UnknownInput { index: 0 })
    );
    let fake = pay(
        &mut fx,
        &bank,
        &[notes[0].clone(), invented],
        &alice.address(),
        650,
    );
    assert_eq!(fake.tx.inputs()[1], NoteId([0xab; 32]));
    assert_eq!(
        fx.ledger.verify(&fake.tx),
        Err(Rejection::UnknownInput { index: 1 })
    );
}

#[test]
fn issues_need_enough_distinct_known_officers() {
    let mut fx = Fixture::new(13);
    let bank = fx.wallet();
    let to = bank.spend.public_key();
    let outputs = [(to, Amount::new(1_000))];
    let unsigned = build_issue(IssueReference([9; 32]), &outputs, &mut fx.rng).unwrap();
    let verify_issue =
        |fx: &Fixture, issue: &Issue| fx.ledger.verify(&Transaction::Issue(issue.clone()));

    // An unsigned issue is refused by the structure check, before any policy
    // is consulted (and so by decoding too).
    assert_eq!(
        verify_issue(&fx, &unsigned),
        Err(Rejection::TooFewOfficers { have: 0, need: 1 })
    );
    assert_eq!(
        Transaction::Issue(unsigned.clone()).check_structure(),
        Err(Rejection::TooFewOfficers { have: 0, need: 1 })
    );
    let mut one = unsigned.clone();
    one.sign(&fx.officers[2], &mut fx.rng);
    assert_eq!(
        verify_issue(&fx, &one),
        Err(Rejection::TooFewOfficers { have: 1, need: 2 })
    );
    let mut twice = one.clone();
    twice.sign(&fx.officers[2], &mut fx.rng);
    assert_eq!(
        verify_issue(&fx, &twice),
        Err(Rejection::DuplicateOfficer { index: 1 })
    );
    let outsider = SecretKey::generate(&mut fx.rng);
    let mut unknown = unsigned.clone();
    unknown.sign(&outsider, &mut fx.rng);
    unknown.sign(&fx.officers[0], &mut fx.rng);
    unknown.sign(&fx.officers[1], &mut fx.rng);
    assert_eq!(
        verify_issue(&fx, &unknown),
        Err(Rejection::UnknownOfficer { index: 0 })
    );
    let mut good = unsigned.clone();
    good.sign(&fx.officers[0], &mut fx.rng);
    good.sign(&fx.officers[1], &mut fx.rng);
    assert_eq!(verify_issue(&fx, &good), Ok(()));

    // Approvals are for exactly what was approved: more money, another owner or
    // another reference invalidates them.
    let mut more = good.clone();
    more.outputs[0].value = Amount::new(1_000_000);
    assert_eq!(
        verify_issue(&fx, &more),
        Err(Rejection::BadOfficerSignature { index: 0 })
    );
    let mut elsewhere = good.clone();
    elsewhere.outputs[0].owner = outsider.public_key();
    assert_eq!(
        verify_issue(&fx, &elsewhere),
        Err(Rejection::BadOfficerSignature { index: 0 })
    );
    let mut replayed = good.clone();
    replayed.reference = IssueReference([10; 32]);
    assert_eq!(
        verify_issue(&fx, &replayed),
        Err(Rejection::BadOfficerSignature { index: 0 })
    );
    // An officer's signature made for another purpose is no approval.
    let mut wrong_purpose = unsigned.clone();
    wrong_purpose.sign(&fx.officers[0], &mut fx.rng);
    wrong_purpose.officer_signatures.push(OfficerSignature {
        officer: fx.officers[1].public_key(),
        signature: fx.officers[1].sign(Purpose::Request, &unsigned.digest(), &mut fx.rng),
    });
    assert_eq!(
        verify_issue(&fx, &wrong_purpose),
        Err(Rejection::BadOfficerSignature { index: 1 })
    );

    // A policy with threshold 0 still needs one officer.
    fx.ledger.policy.threshold = 0;
    assert_eq!(
        verify_issue(&fx, &unsigned),
        Err(Rejection::TooFewOfficers { have: 0, need: 1 })
    );
    assert_eq!(verify_issue(&fx, &one), Ok(()));
}

fn check(ledger: &Ledger, tx: &Transaction, expected: Rejection) {
    assert_eq!(ledger.verify(tx), Err(expected));
    assert_eq!(tx.check_structure(), Err(expected));
}

#[test]
fn structural_rules_are_named() {
    let mut s = scene(14);
    let base = s.built.tx.clone();

    let mut tx = base.clone();
    spend_mut(&mut tx).outputs.clear();
    spend_mut(&mut tx).range_proof = None;
    check(&s.fx.ledger, &tx, Rejection::NoOutputs);

    let mut tx = base.clone();
    spend_mut(&mut tx).burned = Amount::new(1);
    check(&s.fx.ledger, &tx, Rejection::BurnInTransfer);

    let mut tx = base.clone();
    spend_mut(&mut tx)
        .owner_signatures
        .push(spend(&base).owner_signatures[0]);
    check(&s.fx.ledger, &tx, Rejection::OwnerSignatureCount);

    let mut tx = base.clone();
    spend_mut(&mut tx).inputs.clear();
    spend_mut(&mut tx).owner_signatures.clear();
    check(&s.fx.ledger, &tx, Rejection::NoInputs);

    let mut tx = base.clone();
    for i in 1..=INPUTS_MAX {
        spend_mut(&mut tx)
            .inputs
            .push(NoteId([u8::try_from(i).unwrap(); 32]));
        spend_mut(&mut tx)
            .owner_signatures
            .push(spend(&base).owner_signatures[0]);
    }
    check(&s.fx.ledger, &tx, Rejection::TooManyInputs);

    let mut tx = base.clone();
    let output = spend(&base).outputs[0].clone();
    spend_mut(&mut tx).outputs = vec![output; OUTPUTS_MAX + 1];
    check(&s.fx.ledger, &tx, Rejection::TooManyOutputs);

    // A redeem burning nothing.
    let redeem = build_redeem(
        &[s.bank.spend.clone()],
        &[s.note.clone()],
        Amount::new(1),
        &s.bank.address(),
        &mut s.fx.rng,
    )
    .unwrap();
    let mut tx = redeem.tx.clone();
    spend_mut(&mut tx).burned = Amount::ZERO;
    check(&s.fx.ledger, &tx, Rejection::ZeroAmount);

    // An issue with a zero output, too many outputs, or amounts over 64 bits.
    let owner = s.bank.spend.public_key();
    let mut issue = s.fx.signed_issue(&owner, &[5]);
    issue.outputs[0].value = Amount::ZERO;
    check(
        &s.fx.ledger,
        &Transaction::Issue(issue.clone()),
        Rejection::ZeroAmount,
    );
    issue.outputs[0].value = Amount::MAX;
    issue.outputs.push(issue.outputs[0].clone());
    check(
        &s.fx.ledger,
        &Transaction::Issue(issue.clone()),
        Rejection::AmountOverflow,
    );
    issue.outputs = vec![issue.outputs[0].clone(); OUTPUTS_MAX + 1];
    check(
        &s.fx.ledger,
        &Transaction::Issue(issue.clone()),
        Rejection::TooManyOutputs,
    );
    issue.outputs.clear();
    check(
        &s.fx.ledger,
        &Transaction::Issue(issue.clone()),
        Rejection::NoOutputs,
    );
    let mut issue = s.fx.signed_issue(&owner, &[5]);
    let signature = issue.officer_signatures[0].clone();
    issue.officer_signatures = vec![signature; OFFICER_SIGNATURES_MAX + 1];
    check(
        &s.fx.ledger,
        &Transaction::Issue(issue),
        Rejection::TooManyOfficerSignatures,
    );
}

#[test]
fn transfers_with_one_to_sixteen_outputs_verify() {
    // 1 output (exact payment), 2, then padding to a power of two (3 → 4, 5 → 8),
    // and the largest aggregation (15 payments and change: 16).
    let mut fx = Fixture::new(15);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[100_000]);
    for (payments, each) in [(1u64, 100_000u64), (1, 7), (2, 7), (4, 7), (15, 7)] {
        let pays: Vec<Payment> = (0..payments)
            .map(|_| Payment {
                to: alice.address(),
                amount: Amount::new(each),
            })
            .collect();
        let built = build_transfer(
            std::slice::from_ref(&bank.spend),
            &notes,
            &pays,
            &bank.address(),
            &mut fx.rng,
        )
        .unwrap();
        let outputs = spend(&built.tx).outputs.len();
        let change = u64::from(payments * each < 100_000);
        assert_eq!(u64::try_from(outputs).unwrap(), payments + change);
        assert_eq!(
            spend(&built.tx).range_proof.as_ref().unwrap().parties(),
            outputs.next_power_of_two()
        );
        assert_eq!(fx.ledger.verify(&built.tx), Ok(()), "{outputs} outputs");
    }
}

#[test]
fn builder_errors_are_named_and_never_panic() {
    let mut fx = Fixture::new(16);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[1000]);
    let keys = [bank.spend.clone()];
    let to = alice.address();
    let change = bank.address();
    let payment = |amount: u64| Payment {
        to,
        amount: Amount::new(amount),
    };

    let mut transfer = |notes: &[OwnedNote], payments: &[Payment]| {
        build_transfer(&keys, notes, payments, &change, &mut fx.rng).map(|b| b.tx)
    };
    assert_eq!(
        transfer(&notes, &[payment(1001)]).unwrap_err(),
        BuildError::InsufficientFunds {
            available: Amount::new(1000),
            needed: Amount::new(1001)
        }
    );
    assert_eq!(
        transfer(&[], &[payment(1)]).unwrap_err(),
        BuildError::InsufficientFunds {
            available: Amount::ZERO,
            needed: Amount::new(1)
        }
    );
    assert_eq!(
        transfer(&notes, &[payment(5), payment(0)]).unwrap_err(),
        BuildError::ZeroAmount
    );
    assert_eq!(transfer(&notes, &[]).unwrap_err(), BuildError::NoPayments);
    assert_eq!(
        transfer(&notes, &[payment(u64::MAX), payment(1)]).unwrap_err(),
        BuildError::AmountOverflow
    );
    let huge = |id: u8| OwnedNote {
        id: NoteId([id; 32]),
        owner: bank.spend.public_key(),
        opening: Opening::new(Amount::MAX, Scalar::ONE),
    };
    assert_eq!(
        transfer(&[huge(1), huge(2)], &[payment(1)]).unwrap_err(),
        BuildError::AmountOverflow
    );
    let payments: Vec<Payment> = (0..OUTPUTS_MAX + 1).map(|_| payment(1)).collect();
    assert_eq!(
        transfer(&notes, &payments).unwrap_err(),
        BuildError::TooManyOutputs
    );
    // 16 payments and change are 17 outputs.
    assert_eq!(
        transfer(&notes, &payments[..OUTPUTS_MAX]).unwrap_err(),
        BuildError::TooManyOutputs
    );

    let alices = fx.issue(&alice, &[5]);
    let mixed = [notes[0].clone(), alices[0].clone()];
    assert_eq!(
        build_transfer(&keys, &mixed, &[payment(1)], &change, &mut fx.rng).unwrap_err(),
        BuildError::UnknownKey { index: 1 }
    );

    let small = fx.issue(&bank, &[1; 16]);
    let more = fx.issue(&bank, &[1]);
    let many: Vec<OwnedNote> = small.into_iter().chain(more).collect();
    assert_eq!(
        build_transfer(&keys, &many, &[payment(17)], &change, &mut fx.rng).unwrap_err(),
        BuildError::TooManyInputs
    );
    // Sixteen of them are fine.
    let sixteen = build_transfer(&keys, &many, &[payment(16)], &change, &mut fx.rng).unwrap();
    assert_eq!(sixteen.tx.inputs().len(), 16);
    assert_eq!(fx.ledger.verify(&sixteen.tx), Ok(()));

    let mut redeem = |notes: &[OwnedNote], amount: u64| {
        build_redeem(&keys, notes, Amount::new(amount), &change, &mut fx.rng).map(|b| b.tx)
    };
    assert_eq!(redeem(&notes, 0).unwrap_err(), BuildError::ZeroAmount);
    assert_eq!(
        redeem(&notes, 1001).unwrap_err(),
        BuildError::InsufficientFunds {
            available: Amount::new(1000),
            needed: Amount::new(1001)
        }
    );

    // A note with a zero blinding redeemed whole leaves an excess of zero: no
    // kernel can prove it, so the builder says so instead of panicking.
    let owner = bank.spend.public_key();
    let mut issue = fx.signed_issue(&owner, &[7]);
    issue.outputs[0].blinding = PublicBlinding(Scalar::ZERO);
    issue.officer_signatures.clear();
    issue.sign(&fx.officers[0], &mut fx.rng);
    issue.sign(&fx.officers[2], &mut fx.rng);
    fx.ledger
        .submit(&Transaction::Issue(issue.clone()))
        .unwrap();
    let zero_blinded = issue.owned_notes();
    assert_eq!(
        build_redeem(&keys, &zero_blinded, Amount::new(7), &change, &mut fx.rng).unwrap_err(),
        BuildError::DegenerateBlinding
    );

    let mut build = |outputs: &[(PublicKey, Amount)]| {
        build_issue(IssueReference([1; 32]), outputs, &mut fx.rng).map(|_| ())
    };
    assert_eq!(build(&[]).unwrap_err(), BuildError::NoPayments);
    assert_eq!(
        build(&[(owner, Amount::ZERO)]).unwrap_err(),
        BuildError::ZeroAmount
    );
    assert_eq!(
        build(&[(owner, Amount::MAX), (owner, Amount::new(1))]).unwrap_err(),
        BuildError::AmountOverflow
    );
    assert_eq!(
        build(&vec![(owner, Amount::new(1)); OUTPUTS_MAX + 1]).unwrap_err(),
        BuildError::TooManyOutputs
    );
}

#[test]
fn the_largest_amount_moves_and_redeems() {
    let mut fx = Fixture::new(17);
    let bank = fx.wallet();
    let alice = fx.wallet();
    let notes = fx.issue(&bank, &[u64::MAX]);
    let built = pay(&mut fx, &bank, &notes, &alice.address(), u64::MAX);
    fx.ledger.submit(&built.tx).unwrap();
    let hers = built.outputs[0].owned_note();
    assert_eq!(hers.opening.value(), Amount::MAX);
    let redeem = build_redeem(
        std::slice::from_ref(&alice.spend),
        &[hers],
        Amount::MAX,
        &alice.address(),
        &mut fx.rng,
    )
    .unwrap();
    fx.ledger.submit(&redeem.tx).unwrap();
    let supply = fx.ledger.audit().finish().unwrap();
    assert_eq!(supply.outstanding, Amount::ZERO);
    assert_eq!(supply.issued, u128::from(u64::MAX));
}
