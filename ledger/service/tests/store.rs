//! The ledger's store against real databases: every test runs on a fresh
//! PostgreSQL database and on a fresh SQLite file.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;

use ledger_service::store::{
    Admission, ApplyOutcome, AuditOutcome, AuditState, AuditTrigger, BlockDraft, EventKind,
    Malformation, NewParticipant, NewProposal, NonceClaim, ParticipantStatus, ProposalId,
    ProposalState, Rejection, Role, Spend, Store, StoreError, TxLocation,
};
use support::{id, issue, no_seal, note_id, owner, redeem, seal, transfer, TestDatabase};

fn at(height: u64, index: u32) -> ApplyOutcome {
    ApplyOutcome::Accepted(TxLocation { height, index })
}

/// Issues one note to `owner(0)` in its own block and returns its id.
fn issued_note(store: &Store, n: u64) -> [u8; 32] {
    let tx = issue(n, 1_000, &[owner(0)]);
    let note = tx.outputs[0].id;
    let outcomes = store.apply_batch(vec![tx], seal).expect("issue");
    assert!(matches!(outcomes[0], ApplyOutcome::Accepted(_)));
    note
}

on_both_backends!(
    racing_spends_of_one_note_accept_exactly_one,
    a_batch_rejects_its_second_spend_of_a_note_and_commits_the_rest,
    resubmitting_a_transaction_returns_its_first_location,
    unknown_input_is_rejected_and_an_all_rejected_batch_seals_nothing,
    reopening_the_store_keeps_notes_blocks_and_events,
    events_since_a_sequence_number_filter_by_owner_and_limit,
    blocks_chain_from_height_zero_with_previous_hashes,
    approving_a_proposal_twice_is_refused_and_execution_is_atomic_with_the_issue,
    a_reused_request_nonce_is_a_replay,
    a_group_of_requests_is_admitted_once_per_nonce_and_only_for_known_keys,
    amounts_above_i64_max_are_refused_not_wrapped,
    the_supply_snapshot_pages_through_unspent_commitments,
    participants_are_admitted_found_by_key_and_suspended,
    malformed_transactions_and_taken_output_ids_are_rejected,
    notes_are_looked_up_in_request_order,
);

fn racing_spends_of_one_note_accept_exactly_one(db: &TestDatabase) {
    const SPENDERS: u64 = 200;
    let store = db.open();
    let note = issued_note(&store, 1);
    let barrier = Arc::new(Barrier::new(usize::try_from(SPENDERS).unwrap()));
    let handles: Vec<_> = (0..SPENDERS)
        .map(|n| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let tx = transfer(n, &[note], &[owner(n + 1)]);
                barrier.wait();
                (tx.id, store.apply_batch(vec![tx], seal).expect("apply"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let winners: Vec<_> = results
        .iter()
        .filter(|(_, outcome)| matches!(outcome[0], ApplyOutcome::Accepted(_)))
        .map(|(tx_id, _)| *tx_id)
        .collect();
    let double_spends = results
        .iter()
        .filter(|(_, outcome)| outcome[0] == ApplyOutcome::Rejected(Rejection::DoubleSpend(note)))
        .count();
    assert_eq!(winners.len(), 1);
    assert_eq!(double_spends, 199);
    let winner = winners[0];
    let spent = store.note(&note).unwrap().unwrap().spent.unwrap();
    assert_eq!(spent.tx_id, winner);
    // Only the winner's output exists; every loser left no trace.
    for (tx_id, _) in &results {
        let output = store.note(&note_id(tx_id, 0)).unwrap();
        assert_eq!(output.is_some(), *tx_id == winner);
        assert_eq!(
            store.transaction(tx_id).unwrap().is_some(),
            *tx_id == winner
        );
    }
    let spends = store
        .events_since(0, None, 1_000)
        .unwrap()
        .into_iter()
        .filter(|event| event.kind == EventKind::Spent)
        .count();
    assert_eq!(spends, 1);
    assert_eq!(store.latest_block().unwrap().unwrap().height, 1);
}

fn a_batch_rejects_its_second_spend_of_a_note_and_commits_the_rest(db: &TestDatabase) {
    let store = db.open();
    let shared = issued_note(&store, 1);
    let other = issued_note(&store, 2);
    let first = transfer(1, &[shared], &[owner(1)]);
    let second = transfer(2, &[shared], &[owner(2)]);
    let third = transfer(3, &[other], &[owner(3)]);
    let ids = [first.id, second.id, third.id];

    let mut drafts = Vec::new();
    let outcomes = store
        .apply_batch(vec![first, second, third], |draft| {
            drafts.push(draft.clone());
            seal(draft)
        })
        .unwrap();

    assert_eq!(
        outcomes,
        vec![
            at(2, 0),
            ApplyOutcome::Rejected(Rejection::DoubleSpend(shared)),
            at(2, 1)
        ]
    );
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].transaction_ids, vec![ids[0], ids[2]]);
    assert_eq!(
        store.block_transaction_ids(2).unwrap(),
        vec![ids[0], ids[2]]
    );
    assert_eq!(
        store.note(&shared).unwrap().unwrap().spent.unwrap().tx_id,
        ids[0]
    );
    assert_eq!(
        store.note(&other).unwrap().unwrap().spent.unwrap().tx_id,
        ids[2]
    );
    assert!(store.transaction(&ids[1]).unwrap().is_none());
    assert!(store.note(&note_id(&ids[1], 0)).unwrap().is_none());
    assert!(store.note(&note_id(&ids[2], 0)).unwrap().is_some());
    // The rejected transaction consumed no event numbers: the feed is gap-free.
    let seqs: Vec<u64> = store
        .events_since(0, None, 100)
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<u64>>());
}

fn resubmitting_a_transaction_returns_its_first_location(db: &TestDatabase) {
    let store = db.open();
    let note = issued_note(&store, 1);
    let tx = transfer(1, &[note], &[owner(1)]);
    let first = store.apply_batch(vec![tx.clone()], seal).unwrap();
    assert_eq!(first, vec![at(1, 0)]);

    let again = store.apply_batch(vec![tx.clone()], no_seal).unwrap();
    assert_eq!(
        again,
        vec![ApplyOutcome::Duplicate(TxLocation {
            height: 1,
            index: 0
        })]
    );

    // Twice in one batch: the second copy points at the first.
    let other = issued_note(&store, 2);
    let fresh = transfer(2, &[other], &[owner(2)]);
    let outcomes = store
        .apply_batch(vec![fresh.clone(), fresh, tx], seal)
        .unwrap();
    let location = TxLocation {
        height: 3,
        index: 0,
    };
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::Accepted(location),
            ApplyOutcome::Duplicate(location),
            ApplyOutcome::Duplicate(TxLocation {
                height: 1,
                index: 0
            }),
        ]
    );
    assert_eq!(store.block(3).unwrap().unwrap().tx_count, 1);
}

fn unknown_input_is_rejected_and_an_all_rejected_batch_seals_nothing(db: &TestDatabase) {
    let store = db.open();
    issued_note(&store, 1);
    let missing = id(0x77, 7);
    let outcomes = store
        .apply_batch(vec![transfer(1, &[missing], &[owner(1)])], no_seal)
        .unwrap();
    assert_eq!(
        outcomes,
        vec![ApplyOutcome::Rejected(Rejection::UnknownInput(missing))]
    );
    assert_eq!(store.latest_block().unwrap().unwrap().height, 0);
    // The next accepted batch still gets the next height.
    issued_note(&store, 2);
    assert_eq!(store.latest_block().unwrap().unwrap().height, 1);
}

fn reopening_the_store_keeps_notes_blocks_and_events(db: &TestDatabase) {
    let (note, spend, block, events) = {
        let store = db.open();
        let note = issued_note(&store, 1);
        let spend = transfer(1, &[note], &[owner(1), owner(2)]);
        store.apply_batch(vec![spend.clone()], seal).unwrap();
        let block = store.latest_block().unwrap().unwrap();
        let events = store.events_since(0, None, 100).unwrap();
        (note, spend, block, events)
    };
    // The pool is gone; open again from the URL (migrations find nothing to do).
    let store = db.open();
    let stored = store.note(&note).unwrap().unwrap();
    assert_eq!(
        stored.spent,
        Some(Spend {
            tx_id: spend.id,
            seq: 2
        })
    );
    let output = store.note(&spend.outputs[1].id).unwrap().unwrap();
    assert_eq!(output.owner, owner(2));
    assert_eq!(output.memo, spend.outputs[1].memo);
    assert_eq!(store.latest_block().unwrap(), Some(block.clone()));
    assert_eq!(store.events_since(0, None, 100).unwrap(), events);
    let stored_tx = store.transaction(&spend.id).unwrap().unwrap();
    assert_eq!(stored_tx.encoded, spend.encoded);
    assert_eq!(
        stored_tx.location,
        TxLocation {
            height: 1,
            index: 0
        }
    );
    // The chain and the feed continue where they stopped.
    let mut draft_seen = None;
    store
        .apply_batch(vec![issue(2, 5, &[owner(3)])], |draft| {
            draft_seen = Some(draft.clone());
            seal(draft)
        })
        .unwrap();
    let draft = draft_seen.unwrap();
    assert_eq!((draft.height, draft.prev_hash), (2, block.sealed.hash));
    assert_eq!(store.events_since(4, None, 100).unwrap()[0].seq, 5);
}

fn events_since_a_sequence_number_filter_by_owner_and_limit(db: &TestDatabase) {
    let store = db.open();
    let alice = owner(1);
    let bob = owner(2);
    let tx = issue(1, 10, &[alice, bob, alice]);
    let notes: Vec<_> = tx.outputs.iter().map(|note| note.id).collect();
    store.apply_batch(vec![tx], seal).unwrap();
    let pay = transfer(1, &[notes[0]], &[bob]);
    store.apply_batch(vec![pay.clone()], seal).unwrap();

    // seq 1..3 created (alice, bob, alice), 4 spent (alice), 5 created (bob).
    let all = store.events_since(0, None, 100).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        (all[3].kind, all[3].note_id, all[3].tx_id),
        (EventKind::Spent, notes[0], pay.id)
    );

    let of_alice: Vec<_> = store
        .events_since(0, Some(&alice), 100)
        .unwrap()
        .iter()
        .map(|event| (event.seq, event.kind))
        .collect();
    assert_eq!(
        of_alice,
        vec![
            (1, EventKind::Created),
            (3, EventKind::Created),
            (4, EventKind::Spent)
        ]
    );
    let of_bob_after_2: Vec<_> = store
        .events_since(2, Some(&bob), 100)
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(of_bob_after_2, vec![5]);
    let first_two: Vec<_> = store
        .events_since(1, None, 2)
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(first_two, vec![2, 3]);
    assert!(store.events_since(5, None, 100).unwrap().is_empty());
}

fn blocks_chain_from_height_zero_with_previous_hashes(db: &TestDatabase) {
    let store = db.open();
    assert_eq!(store.latest_block().unwrap(), None);
    let mut drafts: Vec<BlockDraft> = Vec::new();
    for n in 0..3 {
        store
            .apply_batch(vec![issue(n, 1, &[owner(n)])], |draft| {
                drafts.push(draft.clone());
                seal(draft)
            })
            .unwrap();
    }
    assert_eq!(drafts[0].height, 0);
    assert_eq!(drafts[0].prev_hash, [0; 32]);
    for height in 1..3u64 {
        let previous = store.block(height - 1).unwrap().unwrap();
        let block = store.block(height).unwrap().unwrap();
        assert_eq!(block.prev_hash, previous.sealed.hash);
        assert_eq!(
            drafts[usize::try_from(height).unwrap()].prev_hash,
            previous.sealed.hash
        );
    }
    let latest = store.latest_block().unwrap().unwrap();
    assert_eq!(latest, store.block(2).unwrap().unwrap());
    assert_eq!(latest.sealed, seal(drafts[2].clone()));
    assert_eq!(store.block(3).unwrap(), None);
    assert_eq!(store.block(u64::MAX).unwrap(), None);
}

fn admit(store: &Store, id: &str, role: Role, key: u64) {
    store
        .admit_participant(&NewParticipant {
            id: id.to_owned(),
            name: format!("{id} name"),
            role,
            spend_public_key: owner(key),
            view_public_key: (role == Role::Bank).then(|| owner(key + 100)),
            created_at_unix_ms: 1_000,
        })
        .unwrap();
}

fn approving_a_proposal_twice_is_refused_and_execution_is_atomic_with_the_issue(db: &TestDatabase) {
    let store = db.open();
    admit(&store, "alice", Role::Officer, 1);
    admit(&store, "bob", Role::Officer, 2);
    admit(&store, "bank-a", Role::Bank, 3);
    let proposal = ProposalId([7; 16]);
    let new = NewProposal {
        id: proposal,
        bank_id: "bank-a".to_owned(),
        amount: 500,
        proposer_id: "alice".to_owned(),
        created_at_unix_ms: 2_000,
    };
    store.create_proposal(&new).unwrap();
    assert!(matches!(
        store.create_proposal(&new),
        Err(StoreError::ProposalExists)
    ));
    let to_officer = NewProposal {
        id: ProposalId([8; 16]),
        bank_id: "alice".to_owned(),
        ..new.clone()
    };
    assert!(matches!(
        store.create_proposal(&to_officer),
        Err(StoreError::NotEligible {
            required: Role::Bank,
            ..
        })
    ));

    assert_eq!(
        store
            .approve_proposal(&proposal, "alice", &[0x5a; 64], 3_000)
            .unwrap(),
        1
    );
    assert!(matches!(
        store.approve_proposal(&proposal, "alice", &[0x5a; 64], 3_001),
        Err(StoreError::AlreadyApproved)
    ));
    assert!(matches!(
        store.approve_proposal(&proposal, "bank-a", &[0x5a; 64], 3_002),
        Err(StoreError::NotEligible {
            required: Role::Officer,
            ..
        })
    ));
    assert!(matches!(
        store.approve_proposal(&ProposalId([9; 16]), "bob", &[0x5a; 64], 3_003),
        Err(StoreError::UnknownProposal)
    ));
    assert_eq!(
        store
            .approve_proposal(&proposal, "bob", &[0x5a; 64], 3_004)
            .unwrap(),
        2
    );
    let approvers: Vec<_> = store
        .approvals(&proposal)
        .unwrap()
        .into_iter()
        .map(|approval| {
            assert_eq!(approval.signature, vec![0x5a; 64]);
            (approval.officer_id, approval.approved_at_unix_ms)
        })
        .collect();
    assert_eq!(
        approvers,
        vec![("alice".to_owned(), 3_000), ("bob".to_owned(), 3_004)]
    );

    // An issue for another amount cannot execute it; nothing of it is stored.
    let mut wrong_amount = issue(1, 499, &[owner(3)]);
    wrong_amount.executes_proposal = Some(proposal);
    let outcomes = store
        .apply_batch(vec![wrong_amount.clone()], no_seal)
        .unwrap();
    assert_eq!(
        outcomes,
        vec![ApplyOutcome::Rejected(Rejection::ProposalNotExecutable(
            proposal
        ))]
    );
    assert!(store.transaction(&wrong_amount.id).unwrap().is_none());

    let mut execution = issue(2, 500, &[owner(3)]);
    execution.executes_proposal = Some(proposal);
    let mut replay = issue(3, 500, &[owner(3)]);
    replay.executes_proposal = Some(proposal);
    let outcomes = store
        .apply_batch(vec![execution.clone(), replay], seal)
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            at(0, 0),
            ApplyOutcome::Rejected(Rejection::ProposalNotExecutable(proposal))
        ]
    );
    let executed = store.proposal(&proposal).unwrap().unwrap();
    assert_eq!(executed.state, ProposalState::Executed);
    assert_eq!(executed.executed_by, Some(execution.id));
    assert!(matches!(
        store.approve_proposal(&proposal, "bob", &[0x5a; 64], 4_000),
        Err(StoreError::ProposalNotOpen)
    ));
    assert!(matches!(
        store.cancel_proposal(&proposal),
        Err(StoreError::ProposalNotOpen)
    ));
    assert_eq!(
        store.proposals(Some(ProposalState::Open), 10).unwrap(),
        vec![]
    );
    assert_eq!(store.proposals(None, 10).unwrap(), vec![executed]);
}

fn a_reused_request_nonce_is_a_replay(db: &TestDatabase) {
    let store = db.open();
    admit(&store, "bank-a", Role::Bank, 1);
    admit(&store, "bank-b", Role::Bank, 2);
    let claim = |key: u64, nonce: u8, seen_at_unix_ms: u64| NonceClaim {
        key: owner(key),
        nonce: [nonce; 16],
        seen_at_unix_ms,
    };
    let admitted = |claim: NonceClaim| {
        matches!(
            store.admit_requests(&[claim]).unwrap()[..],
            [Admission::Admitted(_)]
        )
    };
    assert!(admitted(claim(1, 1, 1_000)));
    assert!(!admitted(claim(1, 1, 1_001)), "a replay");
    // The same nonce under another key, and another nonce, are fine.
    assert!(admitted(claim(2, 1, 1_002)));
    assert!(admitted(claim(1, 2, 5_000)));
    // Pruning forgets only old nonces.
    assert_eq!(store.prune_nonces(2_000).unwrap(), 2);
    assert!(admitted(claim(1, 1, 6_000)));
    assert!(!admitted(claim(1, 2, 6_001)), "kept: seen after the cut");
}

fn a_group_of_requests_is_admitted_once_per_nonce_and_only_for_known_keys(db: &TestDatabase) {
    let store = db.open();
    admit(&store, "bank-a", Role::Bank, 1);
    admit(&store, "officer-b", Role::Officer, 2);
    store
        .set_participant_status("officer-b", ParticipantStatus::Suspended)
        .unwrap();
    let claim = |key: u64, nonce: u8| NonceClaim {
        key: owner(key),
        nonce: [nonce; 16],
        seen_at_unix_ms: 1_000,
    };
    let admitted = |id: &str| match store.participant(id).unwrap() {
        Some(participant) => Admission::Admitted(participant),
        None => panic!("{id} was admitted above"),
    };
    let outcomes = store
        .admit_requests(&[
            claim(1, 7),
            claim(1, 7), // the same pair again in one group
            claim(1, 8),
            claim(9, 7), // nobody's key
            claim(2, 7), // suspended: admitted, the caller refuses it by status
        ])
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            admitted("bank-a"),
            Admission::Replay,
            admitted("bank-a"),
            Admission::UnknownKey,
            admitted("officer-b"),
        ]
    );
    // Recorded durably: a later group sees them.
    assert_eq!(
        store
            .admit_requests(&[claim(1, 8), claim(1, 9), claim(1, 7)])
            .unwrap(),
        vec![Admission::Replay, admitted("bank-a"), Admission::Replay]
    );
    // The unknown key's nonce was not recorded: once the key is known, the
    // same claim is admitted.
    admit(&store, "bank-c", Role::Bank, 9);
    assert_eq!(
        store.admit_requests(&[claim(9, 7)]).unwrap(),
        vec![admitted("bank-c")]
    );
    assert_eq!(store.admit_requests(&[]).unwrap(), vec![]);
    let too_many = vec![claim(1, 1); ledger_service::store::ADMISSIONS_PER_CALL_MAX + 1];
    assert!(matches!(
        store.admit_requests(&too_many),
        Err(StoreError::BatchTooLarge { .. })
    ));
}

fn amounts_above_i64_max_are_refused_not_wrapped(db: &TestDatabase) {
    let store = db.open();
    let too_big = u64::try_from(i64::MAX).unwrap() + 1;
    let largest = issue(1, u64::try_from(i64::MAX).unwrap(), &[owner(1)]);
    let wrapped = issue(2, too_big, &[owner(1)]);
    let outcomes = store
        .apply_batch(vec![wrapped.clone(), largest], seal)
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::Rejected(Rejection::AmountOutOfRange),
            at(0, 0)
        ]
    );
    assert!(store.transaction(&wrapped.id).unwrap().is_none());
    let note = issued_note(&store, 3);
    let burn = redeem(1, &[note], u64::MAX, &[]);
    assert_eq!(
        store.apply_batch(vec![burn], no_seal).unwrap(),
        vec![ApplyOutcome::Rejected(Rejection::AmountOutOfRange)]
    );
    let issued: Vec<u64> = store
        .supply_snapshot(|snapshot| snapshot.issuances())
        .unwrap()
        .iter()
        .map(|issuance| issuance.amount)
        .collect();
    assert_eq!(issued, vec![u64::try_from(i64::MAX).unwrap(), 1_000]);

    admit(&store, "alice", Role::Officer, 1);
    admit(&store, "bank-a", Role::Bank, 2);
    let proposal = NewProposal {
        id: ProposalId([1; 16]),
        bank_id: "bank-a".to_owned(),
        amount: too_big,
        proposer_id: "alice".to_owned(),
        created_at_unix_ms: 0,
    };
    assert!(matches!(
        store.create_proposal(&proposal),
        Err(StoreError::OutOfRange { .. })
    ));
    let run = store.start_audit_run(AuditTrigger::Request, 0).unwrap();
    assert!(matches!(
        store.finish_audit_run(
            run,
            AuditState::Passed,
            1,
            &AuditOutcome {
                outstanding: u64::MAX,
                ..AuditOutcome::default()
            }
        ),
        Err(StoreError::OutOfRange { .. })
    ));
    let still = store.audit_run(run).unwrap().unwrap();
    assert_eq!(still.state, AuditState::Running, "nothing was recorded");
    assert_eq!(store.latest_audit_run(true).unwrap(), None);
}

fn the_supply_snapshot_pages_through_unspent_commitments(db: &TestDatabase) {
    let store = db.open();
    let owners: Vec<_> = (0..7).map(owner).collect();
    let big = issue(1, 700, &owners);
    let note_ids: Vec<_> = big.outputs.iter().map(|note| note.id).collect();
    store.apply_batch(vec![big], seal).unwrap();
    let small = issue(2, 50, &[owner(9)]);
    let small_note = small.outputs[0].id;
    store.apply_batch(vec![small], seal).unwrap();
    let pay = transfer(1, &[note_ids[0], note_ids[1]], &[owner(10)]);
    let burn = redeem(1, &[note_ids[2]], 30, &[owner(11)]);
    let burn_all = redeem(2, &[note_ids[3]], 70, &[]);
    store
        .apply_batch(vec![pay.clone(), burn.clone(), burn_all.clone()], seal)
        .unwrap();

    let mut expected: Vec<[u8; 32]> = note_ids[4..].to_vec();
    expected.extend([small_note, pay.outputs[0].id, burn.outputs[0].id]);
    expected.sort();

    let (height, unspent, first_page, kernels, issued, redeemed) = store
        .supply_snapshot(|snapshot| {
            let mut unspent = Vec::new();
            snapshot.for_each_unspent_commitment(2, |note| unspent.push(note.note_id))?;
            let first_page = snapshot.unspent_commitments(None, 3)?;
            let mut kernels = Vec::new();
            snapshot.for_each_kernel(2, |kernel| kernels.push((kernel.tx_id, kernel.excess)))?;
            Ok((
                snapshot.height()?,
                unspent,
                first_page,
                kernels,
                snapshot.issuances()?,
                snapshot.total_redeemed()?,
            ))
        })
        .unwrap();
    assert_eq!(height, Some(2));
    assert_eq!(unspent, expected);
    assert_eq!(
        first_page
            .iter()
            .map(|note| note.note_id)
            .collect::<Vec<_>>(),
        expected[..3]
    );
    let mut expected_kernels = vec![
        (pay.id, pay.kernel_excess.unwrap()),
        (burn.id, burn.kernel_excess.unwrap()),
        (burn_all.id, burn_all.kernel_excess.unwrap()),
    ];
    expected_kernels.sort();
    assert_eq!(kernels, expected_kernels);
    assert_eq!(
        issued
            .iter()
            .map(|i| (i.amount, i.blinding))
            .collect::<Vec<_>>(),
        vec![(700, id(0xb1, 1)), (50, id(0xb1, 2))]
    );
    assert_eq!(redeemed, 100);

    // An audit run: started, finished with 128-bit totals, found again; a
    // run left running by a stopped ledger is marked abandoned.
    let outcome = AuditOutcome {
        height,
        block_hash: Some(id(0xcc, 1)),
        blocks: 3,
        transactions: 5,
        unspent_notes: 4,
        issued: u128::from(u64::MAX) + 750,
        redeemed: u128::from(u64::MAX) + 100,
        outstanding: 650,
        problem: None,
    };
    let run = store.start_audit_run(AuditTrigger::Schedule, 8).unwrap();
    store
        .finish_audit_run(run, AuditState::Passed, 9, &outcome)
        .unwrap();
    let found = store.latest_audit_run(true).unwrap().unwrap();
    assert_eq!(found.id, run);
    assert_eq!(found.trigger, AuditTrigger::Schedule);
    assert_eq!(found.state, AuditState::Passed);
    assert_eq!(
        (found.started_unix_ms, found.finished_unix_ms),
        (8, Some(9))
    );
    assert_eq!(found.outcome, outcome);
    // A finished run does not change again.
    store
        .finish_audit_run(run, AuditState::Failed, 10, &AuditOutcome::default())
        .unwrap();
    assert_eq!(
        store.audit_run(run).unwrap().unwrap().state,
        AuditState::Passed
    );
    let left = store.start_audit_run(AuditTrigger::Request, 11).unwrap();
    assert_eq!(store.abandon_running_audits(12).unwrap(), 1);
    let abandoned = store.audit_run(left).unwrap().unwrap();
    assert_eq!(abandoned.state, AuditState::Abandoned);
    assert_eq!(store.latest_audit_run(true).unwrap().unwrap().id, run);
    assert_eq!(store.latest_audit_run(false).unwrap().unwrap().id, left);
}

fn participants_are_admitted_found_by_key_and_suspended(db: &TestDatabase) {
    let store = db.open();
    admit(&store, "bank-a", Role::Bank, 1);
    admit(&store, "alice", Role::Officer, 2);
    let same_id = NewParticipant {
        id: "bank-a".to_owned(),
        name: "again".to_owned(),
        role: Role::Bank,
        spend_public_key: owner(50),
        view_public_key: None,
        created_at_unix_ms: 0,
    };
    assert!(matches!(
        store.admit_participant(&same_id),
        Err(StoreError::ParticipantExists)
    ));
    let same_key = NewParticipant {
        id: "bank-b".to_owned(),
        spend_public_key: owner(1),
        ..same_id
    };
    assert!(matches!(
        store.admit_participant(&same_key),
        Err(StoreError::ParticipantExists)
    ));

    let bank = store.participant_by_key(&owner(1)).unwrap().unwrap();
    assert_eq!((bank.id.as_str(), bank.role), ("bank-a", Role::Bank));
    assert_eq!(bank.view_public_key, Some(owner(101)));
    assert_eq!(bank.status, ParticipantStatus::Active);
    assert_eq!(store.participant_by_key(&owner(3)).unwrap(), None);

    store
        .set_participant_status("bank-a", ParticipantStatus::Suspended)
        .unwrap();
    assert_eq!(
        store.participant("bank-a").unwrap().unwrap().status,
        ParticipantStatus::Suspended
    );
    assert!(matches!(
        store.set_participant_status("nobody", ParticipantStatus::Suspended),
        Err(StoreError::UnknownParticipant)
    ));
    // A suspended bank cannot receive issuance.
    assert!(matches!(
        store.create_proposal(&NewProposal {
            id: ProposalId([1; 16]),
            bank_id: "bank-a".to_owned(),
            amount: 1,
            proposer_id: "alice".to_owned(),
            created_at_unix_ms: 0,
        }),
        Err(StoreError::NotEligible { .. })
    ));
    let ids: Vec<_> = store
        .participants()
        .unwrap()
        .into_iter()
        .map(|participant| participant.id)
        .collect();
    assert_eq!(ids, vec!["alice".to_owned(), "bank-a".to_owned()]);
}

fn malformed_transactions_and_taken_output_ids_are_rejected(db: &TestDatabase) {
    let store = db.open();
    let note = issued_note(&store, 1);
    let mut issue_with_kernel = issue(2, 1, &[owner(1)]);
    issue_with_kernel.kernel_excess = Some(id(0xe0, 0));
    let mut transfer_without_kernel = transfer(1, &[note], &[owner(1)]);
    transfer_without_kernel.kernel_excess = None;
    let mut twin_outputs = transfer(2, &[note], &[owner(1), owner(2)]);
    twin_outputs.outputs[1].id = twin_outputs.outputs[0].id;
    // Output id equal to an existing note's.
    let mut clash = transfer(3, &[note], &[owner(1)]);
    clash.outputs[0].id = note;
    let valid = transfer(4, &[note], &[owner(1)]);

    let outcomes = store
        .apply_batch(
            vec![
                issue_with_kernel,
                transfer_without_kernel,
                twin_outputs,
                clash,
                valid,
            ],
            seal,
        )
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::Rejected(Rejection::Malformed(Malformation::UnexpectedKernel)),
            ApplyOutcome::Rejected(Rejection::Malformed(Malformation::NoKernel)),
            ApplyOutcome::Rejected(Rejection::Malformed(Malformation::DuplicateOutput)),
            ApplyOutcome::Rejected(Rejection::OutputExists(note)),
            at(1, 0),
        ]
    );
}

fn notes_are_looked_up_in_request_order(db: &TestDatabase) {
    let store = db.open();
    let first = issued_note(&store, 1);
    let second = issued_note(&store, 2);
    let missing = id(0x77, 1);
    let found = store.notes(&[second, missing, first, second]).unwrap();
    let ids: Vec<_> = found
        .iter()
        .map(|note| note.as_ref().map(|n| n.id))
        .collect();
    assert_eq!(ids, vec![Some(second), None, Some(first), Some(second)]);
    let many: Vec<_> = (0..1_200).map(|n| id(0x55, n)).chain([first]).collect();
    let found = store.notes(&many).unwrap();
    assert_eq!(found.len(), 1_201);
    assert!(found[..1_200].iter().all(Option::is_none));
    assert_eq!(found[1_200].as_ref().unwrap().created_seq, 1);
    let distinct: HashSet<_> = [first, second].into_iter().collect();
    assert_eq!(distinct.len(), 2);
}

#[test]
fn an_in_memory_sqlite_url_is_refused() {
    assert!(matches!(
        Store::open(":memory:"),
        Err(StoreError::UnsupportedUrl(_))
    ));
}

/// Regression: the ledger starts on empty tables, and PostgreSQL settles a
/// prepared statement on one generic plan after five executions. For
/// `notes.id = ANY($1)` that plan was a sequential scan, kept for the
/// connection's lifetime where nothing analyses the table (autovacuum off),
/// so every batch read the whole of `notes` and the ledger slowed down as it
/// grew. Its connections now plan each execution: once the table is large,
/// the reads of the notes a batch touches stay index lookups.
#[test]
fn batch_reads_stay_index_lookups_as_the_notes_table_grows() {
    use diesel::{Connection, RunQueryDsl};
    let db = TestDatabase::postgres();
    let store = db.open();
    let mut admin = diesel::PgConnection::establish(db.url()).expect("admin connection");
    // As on a server with autovacuum off: nothing analyses these tables or
    // invalidates a cached plan during the test.
    use diesel::connection::SimpleConnection;
    admin
        .batch_execute(
            "ALTER TABLE notes SET (autovacuum_enabled = false); \
             ALTER TABLE transactions SET (autovacuum_enabled = false)",
        )
        .expect("autovacuum off for the test's tables");

    // Batches of one transfer each, passing one note along: each batch reads
    // the notes it spends and creates, and each is read back.
    let mut note = issued_note(&store, 0);
    let mut pass_along = |transfers: std::ops::RangeInclusive<u64>| {
        for n in transfers {
            let tx = transfer(n, &[note], &[owner(1)]);
            note = tx.outputs[0].id;
            assert!(matches!(
                store.apply_batch(vec![tx], seal).unwrap()[0],
                ApplyOutcome::Accepted(_)
            ));
            assert!(store.notes(&[note]).unwrap()[0].is_some());
        }
    };
    // Small tables.
    pass_along(1..=30);
    // Grow `notes` by 10,250 rows in one batch.
    let owners: Vec<[u8; 32]> = (0..250).map(|i| owner(100 + i)).collect();
    let growth: Vec<_> = (0..41).map(|i| issue(1_000 + i, 1, &owners)).collect();
    store.apply_batch(growth, seal).unwrap();
    // Large table: more batches, more reads.
    pass_along(31..=60);

    // Closing the pool's connections makes their backends report their
    // statistics; wait until they have gone.
    drop(store);
    let name: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_database()",
    ))
    .get_result(&mut admin)
    .unwrap();
    for _ in 0..200 {
        let others: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid())"
        )))
        .get_result(&mut admin)
        .unwrap();
        if others == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    admin
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .unwrap();
    let read: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'notes')",
    ))
    .get_result(&mut admin)
    .unwrap();
    // Sequential scans while the table was small read at most a few dozen
    // rows each; one generic-plan scan of the grown table reads over 10,250.
    assert!(
        read < 10_000,
        "{read} rows of `notes` were read by sequential scans"
    );
}
