//! Filler notes for the scale benchmark (`store::seed`), on a fresh PostgreSQL
//! database and a fresh SQLite file: the live supply audit passes over them and
//! catches a tampered one, the journal audit refuses them by name, and the real
//! ledger keeps committing on top of them.
//!
//! `scale_supply_audit` (ignored) is the measurement itself, for a release build:
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-scale cargo test --release -p ledger-service \
//!     --test seed -- --ignored --nocapture scale_supply_audit
//! ```
//!
//! with `CBDC_SCALE_NOTES` (default 1000000), `CBDC_SCALE_NOTES_PER_TX` (256) and
//! `CBDC_SCALE_RUNS` (5).

mod support;

use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};
use ledger_core::audit::ZeroBalanced;
use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::tx::IssueReference;
use ledger_core::{
    build_issue, build_transfer, Amount, BlockHeader, Payment, SecretKey, Signature, Transaction,
    WalletKeys,
};
use ledger_service::audit::{audit_store, supply_audit_live, AuditFailure};
use ledger_service::ledger::{
    new_transaction, seal, GenesisConfig, Ledger, LedgerConfig, SUPPLY_CEILING_DEFAULT,
};
use ledger_service::metrics::Metrics;
use ledger_service::store::seed::{seed_filler_notes, FILLER_NOTES_MAX};
use ledger_service::store::{
    ApplyOutcome, EventKind, Store, StoreError, NOTES_PER_TRANSACTION_MAX,
};
use rand::rngs::OsRng;
use support::TestDatabase;

/// Filler notes per test: four groups, the last one short.
const FILLER: u64 = 1_000;
const ISSUED: u64 = 5_000;

on_both_backends!(
    filler_keeps_the_supply_and_the_ledger_commits_on_top,
    a_tampered_filler_note_fails_the_supply_audit,
);

/// Issues `ISSUED` to `bank` in a block of its own, as the ledger would, and
/// returns the issue (whose openings the bank knows).
fn issue_to(store: &Store, block_key: &SecretKey, bank: &WalletKeys) -> ledger_core::Issue {
    let mut issue = build_issue(
        IssueReference([7; 32]),
        &[(bank.spend.public_key(), Amount::new(ISSUED))],
        &mut OsRng,
    )
    .unwrap();
    issue.sign(officer(), &mut OsRng);
    let tx = Transaction::Issue(issue.clone());
    let outcomes = store
        .apply_batch(vec![new_transaction(&tx, tx.id(), None)], |draft| {
            seal(block_key, &draft).1
        })
        .unwrap();
    assert!(matches!(outcomes[0], ApplyOutcome::Accepted(_)));
    issue
}

/// The one officer of the tests' genesis.
fn officer() -> &'static SecretKey {
    static OFFICER: std::sync::OnceLock<SecretKey> = std::sync::OnceLock::new();
    OFFICER.get_or_init(|| SecretKey::generate(&mut OsRng))
}

/// A genesis with one officer, threshold 1.
fn genesis() -> GenesisConfig {
    GenesisConfig {
        officers: vec![("officer".into(), "Officer".into(), officer().public_key())],
        threshold: 1,
        supply_ceiling: Amount::new(SUPPLY_CEILING_DEFAULT),
    }
}

fn filler_keeps_the_supply_and_the_ledger_commits_on_top(db: &TestDatabase) {
    let store = db.open();
    let block_key = SecretKey::generate(&mut OsRng);
    let bank = WalletKeys::generate(&mut OsRng);
    // The running ledger founds the journal (genesis at height 0), and will
    // verify and commit a real transfer on top of the filler.
    let ledger = Ledger::open(
        LedgerConfig::new(db.url().to_owned(), block_key.clone(), genesis()),
        Metrics::new(),
    )
    .unwrap();
    let mut admission = Governance::new(
        1,
        Action::Admit {
            member: Member {
                role: Role::Bank,
                id: "bank".into(),
                name: "Bank".into(),
                key: bank.spend.public_key(),
                view_key: Some(bank.view.public_key()),
            },
        },
    );
    admission.approve(officer(), &mut OsRng);
    ledger.submit_governance(admission).unwrap();
    let issue = issue_to(&store, &block_key, &bank);

    let report = seed_filler_notes(&store, &block_key, FILLER, NOTES_PER_TRANSACTION_MAX).unwrap();
    assert_eq!(report.notes, FILLER);
    assert_eq!(report.transactions, 4);
    assert_eq!(report.heights, (3, 3));
    assert_eq!(report.event_seqs, (2, FILLER + 1));

    let live = supply_audit_live(&store).unwrap();
    assert_eq!(live.height, Some(3));
    assert_eq!(live.unspent_notes, FILLER + 1);
    assert_eq!(live.kernels, 4);
    assert_eq!(live.outstanding, Amount::new(ISSUED));

    let payee = WalletKeys::generate(&mut OsRng);
    let transfer = build_transfer(
        std::slice::from_ref(&bank.spend),
        &issue.owned_notes(),
        &[Payment {
            to: payee.address(),
            amount: Amount::new(1_200),
        }],
        &bank.address(),
        &mut OsRng,
    )
    .unwrap();
    let receipt = ledger.submit(&transfer.tx).unwrap();
    assert_eq!(receipt.block.height, 4);

    let live = supply_audit_live(&store).unwrap();
    assert_eq!(live.height, Some(4));
    assert_eq!(live.unspent_notes, FILLER + 2);
    assert_eq!(live.kernels, 5);
    assert_eq!(live.outstanding, Amount::new(ISSUED));

    // One chain of signed blocks, and one gap-free event feed, across the filler.
    let mut previous: Option<BlockHeader> = None;
    for height in 0..=4 {
        let block = store.block(height).unwrap().unwrap();
        let header = BlockHeader::from_bytes(&block.sealed.header).unwrap();
        header.check_follows(previous.as_ref()).unwrap();
        let signature =
            Signature::from_bytes(&block.sealed.signature.clone().try_into().unwrap()).unwrap();
        header
            .verify_signature(&block_key.public_key(), &signature)
            .unwrap();
        previous = Some(header);
    }
    let events = store.events_since(0, None, 10_000).unwrap();
    let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (1..=FILLER + 4).collect::<Vec<_>>());
    let filler_created = events
        .iter()
        .filter(|event| event.kind == EventKind::Created && event.owner == report.owner)
        .count();
    assert_eq!(filler_created, usize::try_from(FILLER).unwrap());

    // The journal audit refuses the filler by name: it is not a ledger.
    match audit_store(&store, block_key.public_key(), &Default::default()) {
        Err(AuditFailure::Block { height: 3, problem }) => {
            assert!(problem.contains("scale-benchmark filler"), "{problem}");
        }
        other => panic!("the journal audit accepted filler: {other:?}"),
    }
}

fn a_tampered_filler_note_fails_the_supply_audit(db: &TestDatabase) {
    let store = db.open();
    let block_key = SecretKey::generate(&mut OsRng);
    issue_to(&store, &block_key, &WalletKeys::generate(&mut OsRng));
    let report = seed_filler_notes(&store, &block_key, FILLER, 100).unwrap();
    assert_eq!(report.transactions, 10);
    assert_eq!(supply_audit_live(&store).unwrap().kernels, 10);
    let note = store.events_since(500, None, 1).unwrap()[0].note_id;
    let original = store.note(&note).unwrap().unwrap().commitment;

    // Another valid point: the sum no longer balances.
    let other = ZeroBalanced::random(1, &mut OsRng).commitments[0];
    set_commitment(db, &note, &other);
    match supply_audit_live(&store) {
        Err(AuditFailure::Supply(problem)) => assert!(problem.contains("do not add up")),
        other => panic!("a tampered commitment passed: {other:?}"),
    }

    // Not a point at all: named.
    set_commitment(db, &note, &[0xff; 32]);
    match supply_audit_live(&store) {
        Err(AuditFailure::Supply(problem)) => {
            assert!(problem.contains(&hex::encode(note)), "{problem}");
        }
        other => panic!("a non-point commitment passed: {other:?}"),
    }

    set_commitment(db, &note, &original);
    assert_eq!(supply_audit_live(&store).unwrap().unspent_notes, FILLER + 1);
}

/// Overwrites a note's commitment with plain SQL, as an attacker with database
/// access would.
fn set_commitment(db: &TestDatabase, note: &[u8; 32], commitment: &[u8; 32]) {
    let (note, commitment) = (hex::encode(note), hex::encode(commitment));
    let changed = match db {
        TestDatabase::Postgres { url, .. } => diesel::sql_query(format!(
            "UPDATE notes SET commitment = decode('{commitment}', 'hex') \
             WHERE id = decode('{note}', 'hex')"
        ))
        .execute(&mut diesel::PgConnection::establish(url).unwrap()),
        TestDatabase::Sqlite { url, .. } => diesel::sql_query(format!(
            "UPDATE notes SET commitment = X'{commitment}' WHERE id = X'{note}'"
        ))
        .execute(&mut diesel::SqliteConnection::establish(url).unwrap()),
    };
    assert_eq!(changed.unwrap(), 1);
}

#[test]
fn filler_sizes_out_of_range_are_refused() {
    let db = TestDatabase::sqlite();
    let store = db.open();
    let key = SecretKey::generate(&mut OsRng);
    for (count, per_transaction) in [
        (0, 1),
        (FILLER_NOTES_MAX + 1, 1),
        (1, 0),
        (1, NOTES_PER_TRANSACTION_MAX + 1),
    ] {
        assert!(matches!(
            seed_filler_notes(&store, &key, count, per_transaction),
            Err(StoreError::OutOfRange { .. })
        ));
    }
    assert_eq!(store.latest_block().unwrap(), None);
}

/// The measurement behind issue 4's "supply audit of 10⁶ notes < 3 s": seeds a
/// fresh PostgreSQL database and times the live supply audit over it.
#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn scale_supply_audit() {
    let setting = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |text| text.parse().expect("a number"))
    };
    let notes = setting("CBDC_SCALE_NOTES", 1_000_000);
    let per_transaction = usize::try_from(setting("CBDC_SCALE_NOTES_PER_TX", 256)).unwrap();
    let runs = setting("CBDC_SCALE_RUNS", 5);
    let db = TestDatabase::postgres();
    let store = db.open();
    let key = SecretKey::generate(&mut OsRng);
    let report = seed_filler_notes(&store, &key, notes, per_transaction).unwrap();
    println!(
        "seeded {notes} notes in {} transactions: generating {:.2} s, writing {:.2} s, vacuum {:.2} s",
        report.transactions,
        report.generating.as_secs_f64(),
        report.writing.as_secs_f64(),
        report.vacuuming.as_secs_f64()
    );
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let live = supply_audit_live(&store).unwrap();
            let elapsed = started.elapsed();
            assert_eq!(live.unspent_notes, notes);
            println!("supply audit: {:.3} s", elapsed.as_secs_f64());
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "median of {runs}: {:.3} s; peak RSS of this process {}",
        times[times.len() / 2].as_secs_f64(),
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s
                .lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned))
            .unwrap_or_default()
    );
}
