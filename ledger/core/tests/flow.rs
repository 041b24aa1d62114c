//! One history end to end: issue to a bank, pay customers, redeem; every step
//! verifies, the memos open, and the supply audit holds after each step.

use ledger_core::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;

#[test]
fn issue_transfer_redeem_and_audit() {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let officers: Vec<SecretKey> = (0..3).map(|_| SecretKey::generate(&mut rng)).collect();
    let policy = IssuancePolicy {
        officers: officers.iter().map(|k| k.public_key()).collect(),
        threshold: 2,
    };
    let bank = WalletKeys::generate(&mut rng);
    let alice = WalletKeys::generate(&mut rng);

    let mut ledger: HashMap<NoteId, StoredNote> = HashMap::new();
    let mut audit_issued = Vec::new();
    let mut kernels = Vec::new();
    let mut redeemed = Amount::ZERO;

    let mut issue = build_issue(
        IssueReference([1; 32]),
        &[(bank.spend.public_key(), Amount::new(1_000_000))],
        &mut rng,
    )
    .unwrap();
    issue.sign(&officers[0], &mut rng);
    let one = Transaction::Issue(issue.clone());
    assert_eq!(
        verify(&one, &[], &policy),
        Err(Rejection::TooFewOfficers { have: 1, need: 2 })
    );
    issue.sign(&officers[2], &mut rng);
    let tx = Transaction::Issue(issue.clone());
    verify(&tx, &[], &policy).unwrap();
    for note in tx.created_notes() {
        ledger.insert(
            note.id,
            StoredNote {
                owner: note.owner,
                commitment: note.commitment,
                spent: false,
            },
        );
    }
    audit_issued.extend(issue.outputs.clone());
    let bank_notes = issue.owned_notes();

    let audit = |ledger: &HashMap<NoteId, StoredNote>,
                 kernels: &Vec<Excess>,
                 issued: &Vec<IssueOutput>,
                 redeemed: Amount| {
        let mut a = SupplyAudit::new();
        for n in ledger.values().filter(|n| !n.spent) {
            a.add_unspent(&n.commitment);
        }
        for k in kernels {
            a.add_kernel(k);
        }
        for i in issued {
            a.add_issuance(i);
        }
        a.add_redemption(redeemed);
        a.finish()
    };
    assert_eq!(
        audit(&ledger, &kernels, &audit_issued, redeemed)
            .unwrap()
            .outstanding,
        Amount::new(1_000_000)
    );

    // Bank pays Alice 250_000.
    let built = build_transfer(
        std::slice::from_ref(&bank.spend),
        &bank_notes,
        &[Payment {
            to: alice.address(),
            amount: Amount::new(250_000),
        }],
        &bank.address(),
        &mut rng,
    )
    .unwrap();
    let encoded = built.tx.encode();
    let decoded = Transaction::decode(&encoded).unwrap();
    assert_eq!(decoded, built.tx);
    let json = serde_json::to_string(&built.tx).unwrap();
    let from_json: Transaction = serde_json::from_str(&json).unwrap();
    assert_eq!(from_json, built.tx);
    let inputs: Vec<Option<StoredNote>> = built
        .tx
        .inputs()
        .iter()
        .map(|id| ledger.get(id).cloned())
        .collect();
    verify(&built.tx, &inputs, &policy).unwrap();
    for id in built.tx.inputs() {
        ledger.get_mut(id).unwrap().spent = true;
    }
    let Transaction::Transfer(spend) = &built.tx else {
        panic!()
    };
    kernels.push(spend.kernel.excess);
    let mut alice_notes = Vec::new();
    let mut bank_change = Vec::new();
    for (i, note) in built.tx.created_notes().into_iter().enumerate() {
        ledger.insert(
            note.id,
            StoredNote {
                owner: note.owner,
                commitment: note.commitment,
                spent: false,
            },
        );
        let memo = note.memo.unwrap();
        if note.owner == alice.spend.public_key() {
            let opening = memo.open(&alice.view, &note.commitment).unwrap();
            assert_eq!(opening.value(), Amount::new(250_000));
            assert!(memo.open(&bank.view, &note.commitment).is_err());
            alice_notes.push(OwnedNote {
                id: note.id,
                owner: note.owner,
                opening,
            });
        } else {
            let opening = memo.open(&bank.view, &note.commitment).unwrap();
            assert_eq!(opening.value(), Amount::new(750_000));
            assert_eq!(built.outputs[i].note, note.id);
            bank_change.push(OwnedNote {
                id: note.id,
                owner: note.owner,
                opening,
            });
        }
    }
    assert_eq!(
        audit(&ledger, &kernels, &audit_issued, redeemed)
            .unwrap()
            .outstanding,
        Amount::new(1_000_000)
    );

    // Spending the same inputs again is a spent input.
    let inputs: Vec<Option<StoredNote>> = built
        .tx
        .inputs()
        .iter()
        .map(|id| ledger.get(id).cloned())
        .collect();
    assert_eq!(
        verify(&built.tx, &inputs, &policy),
        Err(Rejection::SpentInput { index: 0 })
    );

    // The bank redeems 100_000 of its change.
    let built = build_redeem(
        std::slice::from_ref(&bank.spend),
        &bank_change,
        Amount::new(100_000),
        &bank.address(),
        &mut rng,
    )
    .unwrap();
    let inputs: Vec<Option<StoredNote>> = built
        .tx
        .inputs()
        .iter()
        .map(|id| ledger.get(id).cloned())
        .collect();
    verify(&built.tx, &inputs, &policy).unwrap();
    for id in built.tx.inputs() {
        ledger.get_mut(id).unwrap().spent = true;
    }
    let Transaction::Redeem(spend) = &built.tx else {
        panic!()
    };
    kernels.push(spend.kernel.excess);
    redeemed = redeemed.checked_add(spend.burned).unwrap();
    for note in built.tx.created_notes() {
        ledger.insert(
            note.id,
            StoredNote {
                owner: note.owner,
                commitment: note.commitment,
                spent: false,
            },
        );
    }
    let supply = audit(&ledger, &kernels, &audit_issued, redeemed).unwrap();
    assert_eq!(supply.outstanding, Amount::new(900_000));

    // Alice redeems everything (no change output): allowed for anyone at the core level.
    let built = build_redeem(
        std::slice::from_ref(&alice.spend),
        &alice_notes,
        Amount::new(250_000),
        &alice.address(),
        &mut rng,
    )
    .unwrap();
    let Transaction::Redeem(spend) = &built.tx else {
        panic!()
    };
    assert!(spend.outputs.is_empty() && spend.range_proof.is_none());
    let inputs: Vec<Option<StoredNote>> = built
        .tx
        .inputs()
        .iter()
        .map(|id| ledger.get(id).cloned())
        .collect();
    verify(&built.tx, &inputs, &policy).unwrap();
    assert_eq!(Transaction::decode(&built.tx.encode()).unwrap(), built.tx);
}
