//! PostgreSQL reports a deadlock (SQLSTATE 40P01) as an error diesel does not
//! classify; the store must still see it as a transient write conflict, which
//! `apply_batch` retries and a service answers with 503.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::Connection;
use ledger_service::store::{ApplyOutcome, StoreError, TxLocation};
use support::{issue, owner, seal, transfer, TestDatabase};

#[test]
fn a_deadlock_is_a_transient_error() {
    let db = TestDatabase::postgres();
    let mut setup = PgConnection::establish(db.url()).unwrap();
    setup
        .batch_execute("CREATE TABLE rows (id INT PRIMARY KEY); INSERT INTO rows VALUES (1), (2);")
        .unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let lock_in_order = |first: i32, second: i32| {
        let url = db.url().to_owned();
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || -> Result<(), diesel::result::Error> {
            let mut conn = PgConnection::establish(&url).unwrap();
            conn.transaction(|conn| {
                conn.batch_execute(&format!("UPDATE rows SET id = id WHERE id = {first}"))?;
                barrier.wait();
                conn.batch_execute(&format!("UPDATE rows SET id = id WHERE id = {second}"))
            })
        })
    };
    let one = lock_in_order(1, 2);
    let two = lock_in_order(2, 1);
    let results = [one.join().unwrap(), two.join().unwrap()];

    let failures: Vec<StoreError> = results
        .into_iter()
        .filter_map(Result::err)
        .map(StoreError::from)
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "PostgreSQL breaks the deadlock by failing one side"
    );
    assert!(failures[0].is_transient(), "{:?}", failures[0]);
}

#[test]
fn a_constraint_violation_is_not_transient() {
    let db = TestDatabase::postgres();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.batch_execute("CREATE TABLE rows (id INT PRIMARY KEY); INSERT INTO rows VALUES (1);")
        .unwrap();
    let error = conn
        .batch_execute("INSERT INTO rows VALUES (1)")
        .unwrap_err();
    assert!(!StoreError::from(error).is_transient());
}

#[test]
fn apply_batch_retries_a_batch_chosen_as_deadlock_victim() {
    let db = TestDatabase::postgres();
    let store = db.open();
    let genesis = issue(1, 10, &[owner(1)]);
    let note = genesis.outputs[0].id;
    store.apply_batch(vec![genesis], seal).unwrap();

    // Another writer holds the note and will next want the chain head, which
    // the batch takes first and holds while it waits for the note: a cycle.
    let mut other = PgConnection::establish(db.url()).unwrap();
    let note_hex: String = note.iter().map(|byte| format!("{byte:02x}")).collect();
    other
        .batch_execute(&format!(
            "SET deadlock_timeout = '10s'; BEGIN; \
             SELECT 1 FROM notes WHERE id = decode('{note_hex}', 'hex') FOR UPDATE;"
        ))
        .unwrap();
    let spend = transfer(1, &[note], &[owner(2)]);
    let batch = {
        let store = store.clone();
        let spend = spend.clone();
        thread::spawn(move || {
            let mut seals = 0;
            let outcomes = store.apply_batch(vec![spend], |draft| {
                seals += 1;
                seal(draft)
            });
            (outcomes, seals)
        })
    };
    thread::sleep(Duration::from_millis(300));
    // With the longer deadlock_timeout here, PostgreSQL (default 1 s on the
    // batch's session) picks the batch as the victim.
    other
        .batch_execute("UPDATE chain_head SET next_height = next_height; COMMIT;")
        .unwrap();

    let (outcomes, seals) = batch.join().unwrap();
    assert_eq!(
        outcomes.unwrap(),
        vec![ApplyOutcome::Accepted(TxLocation {
            height: 1,
            index: 0
        })]
    );
    assert_eq!(seals, 1);
    assert_eq!(
        store.note(&note).unwrap().unwrap().spent.unwrap().tx_id,
        spend.id
    );
}
