//! Governance in the journal, end to end: officers admitted and suspended and
//! the threshold changed by signed entries, over real HTTP on a real
//! PostgreSQL database (one fresh database per test); every refusal of
//! `POST /v1/governance` with its code and status; the supply ceiling at
//! proposal and at execution; audits as background jobs (and on a schedule);
//! and what the offline audit can and cannot see of a rolled-back journal.
//!
//! The tests end with the journal audited (over the API, and offline where
//! the database is at hand): a refusal that left a trace, or an accepted entry
//! the replay disagrees with, fails the test that caused it.

mod support;

use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, RunQueryDsl};
use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::tx::OfficerSignature;
use ledger_core::{
    build_redeem, build_transfer, Amount, Built, OwnedNote, Payment, Purpose, Receipt, SecretKey,
    Transaction, WalletKeys,
};
use ledger_service::audit::{audit_store, AuditFailure, AuditOptions, AuditReport, Expectation};
use ledger_service::auth::sign_request;
use ledger_service::client::{ClientError, LedgerClient};
use ledger_service::ledger::{now_ms, GenesisConfig, Ledger, LedgerConfig};
use ledger_service::metrics::Metrics;
use ledger_service::store::{AuditState, AuditTrigger, Store};
use rand::rngs::OsRng;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::net::Net;
use support::TestDatabase;

/// The longest any test waits for a background job (an audit) to finish.
const WAIT_MAX: Duration = Duration::from_secs(30);

/// The status and code of a refused request; panics if it was accepted.
fn refusal(answer: Result<Value, ClientError>) -> (u16, String) {
    match answer {
        Ok(accepted) => panic!("expected a refusal, the ledger accepted: {accepted}"),
        Err(ClientError::Api { status, code, .. }) => (status, code),
        Err(other) => panic!("expected an API error, got {other}"),
    }
}

fn assert_refused(case: &str, answer: Result<Value, ClientError>, status: u16, code: &str) {
    let (got_status, got_code) = refusal(answer);
    assert_eq!(
        (got_status, got_code.as_str()),
        (status, code),
        "{case}: wrong refusal"
    );
}

/// An entry at `sequence`, approved by each of `approvers` in order (repeats kept).
fn entry(sequence: u64, action: Action, approvers: &[&SecretKey]) -> Governance {
    let mut entry = Governance::new(sequence, action);
    for approver in approvers {
        entry.approve(approver, &mut OsRng);
    }
    entry
}

/// Posts an entry exactly as given (the typed client would approve it itself).
async fn post_entry(client: &LedgerClient, body: &Value) -> Result<Value, ClientError> {
    client
        .request(Method::POST, "/v1/governance", Some(body))
        .await
}

fn as_body(entry: &Governance) -> Value {
    serde_json::to_value(entry).expect("entries serialise")
}

fn member(role: Role, id: &str, key: &SecretKey, view_key: Option<&SecretKey>) -> Member {
    Member {
        role,
        id: id.to_string(),
        name: format!("Participant {id}"),
        key: key.public_key(),
        view_key: view_key.map(SecretKey::public_key),
    }
}

fn fresh_key() -> SecretKey {
    SecretKey::generate(&mut OsRng)
}

async fn sequence(net: &Net) -> u64 {
    net.officer(0).governance_sequence().await.unwrap()
}

/// `GET /v1/participants`, by id.
async fn participants(client: &LedgerClient) -> std::collections::BTreeMap<String, Value> {
    let answer = client
        .request(Method::GET, "/v1/participants", None)
        .await
        .unwrap();
    answer["participants"]
        .as_array()
        .expect("a list of participants")
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), p.clone()))
        .collect()
}

async fn ledger_info(client: &LedgerClient) -> Value {
    client
        .request(Method::GET, "/v1/ledger", None)
        .await
        .unwrap()
}

/// Runs a full audit over the API as officer `i` and waits for it; it must
/// pass. Returns the finished run as `GET /v1/audits/{id}` shows it.
async fn audit_passes(net: &Net, i: usize) -> Value {
    let run = net.officer(i).audit().await.unwrap();
    assert_eq!(run["state"], "passed", "{run}");
    run
}

/// The offline audit of the net's database, through a store of its own.
fn audit_offline(net: &Net, expect: Vec<Expectation>) -> Result<AuditReport, AuditFailure> {
    let store = Store::open(net.db.url()).expect("open the store");
    audit_store(
        &store,
        net.block_key.public_key(),
        &AuditOptions {
            one_by_one: false,
            expect,
        },
    )
}

/// Proposes `amount` for bank-a and has `approvers` approve it in order: all
/// but the last leave it open, the last executes it. Returns the executed
/// issue as the journal holds it.
async fn issue_through(net: &Net, amount: u64, approvers: &[LedgerClient]) -> ledger_core::Issue {
    let proposal = approvers[0]
        .propose("bank-a", Amount::new(amount))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    let (last, first) = approvers.split_last().expect("at least one approver");
    for (n, approver) in first.iter().enumerate() {
        let answer = approver.approve(&id).await.unwrap();
        assert_eq!(
            answer["state"],
            "open",
            "{} approval(s) of {} executed the issue: {answer}",
            n + 1,
            approvers.len()
        );
    }
    let done = last.approve(&id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    let receipt: Receipt = serde_json::from_value(done["receipt"].clone()).unwrap();
    receipt.verify(&net.block_key.public_key()).unwrap();
    stored_issue(net, &receipt).await
}

async fn stored_issue(net: &Net, receipt: &Receipt) -> ledger_core::Issue {
    // An officer's client: a re-keyed bank's old key no longer authenticates.
    let stored = net.officer(2).transaction(&receipt.tx_id).await.unwrap();
    match serde_json::from_value::<Transaction>(stored["transaction"].clone()).unwrap() {
        Transaction::Issue(issue) => issue,
        other => panic!("not an issue: {other:?}"),
    }
}

fn signers(issue: &ledger_core::Issue) -> Vec<ledger_core::PublicKey> {
    let mut keys: Vec<_> = issue.officer_signatures.iter().map(|s| s.officer).collect();
    keys.sort();
    keys
}

fn pay(from: &WalletKeys, notes: &[OwnedNote], to: &WalletKeys, amount: u64) -> Built {
    build_transfer(
        std::slice::from_ref(&from.spend),
        notes,
        &[Payment {
            to: to.address(),
            amount: Amount::new(amount),
        }],
        &from.address(),
        &mut OsRng,
    )
    .unwrap()
}

fn change_of(built: &Built) -> Vec<OwnedNote> {
    built
        .outputs
        .iter()
        .filter(|o| o.change)
        .map(|o| o.owned_note())
        .collect()
}

/// Three officers in the genesis, threshold 2: admitting a fourth officer
/// (threshold approvals), suspending one, and raising the threshold to 3 are
/// all journaled, audited clean, served by the API, enforced on issuance, and
/// replayed unchanged after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn officer_changes_and_a_higher_threshold_are_journaled_enforced_and_survive_restart() {
    let mut net = Net::start().await;
    assert_eq!(sequence(&net).await, 2, "genesis and bank-a");
    let officer_3 = fresh_key();
    net.officer(0)
        .admit(
            "officer-3",
            "Officer 3",
            Role::Officer,
            &officer_3.public_key(),
            None,
            &[net.officers[1].clone()],
        )
        .await
        .unwrap();
    net.officer(0)
        .suspend("officer-1", &[net.officers[2].clone()])
        .await
        .unwrap();
    net.officer(0)
        .govern(
            Action::SetThreshold { threshold: 3 },
            &[net.officers[2].clone()],
        )
        .await
        .unwrap();

    audit_passes(&net, 2).await;
    let report = audit_offline(&net, Vec::new()).expect("the offline audit passes");
    assert_eq!(
        report.blocks, 5,
        "genesis, bank-a, admit, suspend, threshold"
    );

    let client = net.officer(0);
    let info = ledger_info(&client).await;
    assert_eq!(info["threshold"], 3, "{info}");
    assert_eq!(info["governance_sequence"], 5, "{info}");
    assert_eq!(
        info["ledger_key"],
        hex::encode(net.block_key.public_key().as_bytes())
    );
    let listed = participants(&client).await;
    let ids: Vec<&str> = listed.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["bank-a", "officer-0", "officer-1", "officer-2", "officer-3"]
    );
    let admitted = &listed["officer-3"];
    assert_eq!(admitted["role"], "officer");
    assert_eq!(admitted["status"], "active");
    assert_eq!(
        admitted["key"],
        hex::encode(officer_3.public_key().as_bytes())
    );
    assert_eq!(admitted["view_key"], Value::Null);
    assert_eq!(listed["officer-1"]["status"], "suspended");
    assert_eq!(listed["officer-0"]["status"], "active");

    // Three of the active officers 0, 2 and 3 must now approve; the
    // suspended officer 1 cannot.
    let officer_3_client = LedgerClient::new(net.base(), officer_3.clone());
    let (status, code) = refusal(net.officer(1).propose("bank-a", Amount::new(5)).await);
    assert_eq!((status, code.as_str()), (403, "suspended"));
    let issue = issue_through(
        &net,
        3_000,
        &[net.officer(0), net.officer(2), officer_3_client.clone()],
    )
    .await;
    let mut want = vec![
        net.officers[0].public_key(),
        net.officers[2].public_key(),
        officer_3.public_key(),
    ];
    want.sort();
    assert_eq!(signers(&issue), want);
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(1))
        .await
        .unwrap();
    assert_eq!(proposal["threshold"], 3);
    audit_passes(&net, 2).await;

    let info_before = ledger_info(&client).await;
    let listed_before = participants(&client).await;
    net.restart().await;

    let client = net.officer(0);
    assert_eq!(ledger_info(&client).await, info_before);
    assert_eq!(participants(&client).await, listed_before);
    // The threshold in force after the restart is the journal's 3 (the
    // configuration still says 2): two approvals of an officer entry fall short…
    let (status, code) = refusal(
        net.officer(0)
            .govern(
                Action::Reinstate {
                    id: "officer-1".into(),
                },
                &[net.officers[2].clone()],
            )
            .await,
    );
    assert_eq!((status, code.as_str()), (422, "too_few_officers"));
    // …and two approvals of an issue do not execute it.
    let officer_3_client = LedgerClient::new(net.base(), officer_3.clone());
    let issue = issue_through(
        &net,
        2_000,
        &[net.officer(2), officer_3_client, net.officer(0)],
    )
    .await;
    assert_eq!(signers(&issue), want);
    let audit = audit_passes(&net, 2).await;
    assert_eq!(audit["outstanding"], 5_000);
    let report = audit_offline(&net, Vec::new()).expect("the offline audit passes");
    assert_eq!(report.outstanding, Amount::new(5_000));
}

/// Every rule of a governance entry refused over HTTP with its own code and
/// status, none of them leaving a trace in the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_refused_governance_entry_has_its_code_and_leaves_the_journal_clean() {
    let net = Net::start().await;
    let officer_0 = net.officer(0);
    let [k0, k1, k2] = [&net.officers[0], &net.officers[1], &net.officers[2]];
    let seq = sequence(&net).await;
    assert_eq!(seq, 2);
    let new_officer = fresh_key();
    let admit_officer = || Action::Admit {
        member: member(Role::Officer, "officer-3", &new_officer, None),
    };

    let cases: Vec<(&str, Governance, u16, &str)> = vec![
        (
            "an officer admitted with one approval of two",
            entry(seq, admit_officer(), &[k0]),
            422,
            "too_few_officers",
        ),
        (
            "an entry without any approval",
            entry(
                seq,
                Action::Suspend {
                    id: "bank-a".into(),
                },
                &[],
            ),
            422,
            "too_few_officers",
        ),
        (
            "the same officer approving twice",
            entry(seq, admit_officer(), &[k0, k0]),
            422,
            "duplicate_officer",
        ),
        (
            "an approval by a key that is no officer's",
            entry(seq, admit_officer(), &[k0, &fresh_key()]),
            422,
            "unknown_officer",
        ),
        (
            "an approval by a bank's key",
            entry(
                seq,
                Action::Suspend {
                    id: "bank-a".into(),
                },
                &[&net.bank.spend],
            ),
            422,
            "unknown_officer",
        ),
        (
            "an approval signed for an issue, not for governance",
            {
                let mut entry = entry(seq, admit_officer(), &[k0]);
                let digest = entry.digest();
                entry.approvals.push(OfficerSignature {
                    officer: k1.public_key(),
                    signature: k1.sign(Purpose::Officer, &digest, &mut OsRng),
                });
                entry
            },
            422,
            "bad_officer_signature",
        ),
        (
            "an approval of another entry",
            {
                let mut entry = entry(seq, admit_officer(), &[k0]);
                let other = self::entry(seq, Action::SetThreshold { threshold: 3 }, &[k1]);
                entry.approvals.extend(other.approvals);
                entry
            },
            422,
            "bad_officer_signature",
        ),
        (
            "an existing id",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Bank, "bank-a", &fresh_key(), Some(&fresh_key())),
                },
                &[k0],
            ),
            409,
            "participant_exists",
        ),
        (
            "an officer's id for a new bank",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Bank, "officer-2", &fresh_key(), Some(&fresh_key())),
                },
                &[k0],
            ),
            409,
            "participant_exists",
        ),
        (
            "a bank's spend key for a new bank",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Bank, "bank-b", &net.bank.spend, Some(&fresh_key())),
                },
                &[k0],
            ),
            422,
            "key_in_use",
        ),
        (
            "a bank's view key for a new officer",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Officer, "officer-3", &net.bank.view, None),
                },
                &[k0, k1],
            ),
            422,
            "key_in_use",
        ),
        (
            "an officer's key as a new bank's view key",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Bank, "bank-b", &fresh_key(), Some(k2)),
                },
                &[k0],
            ),
            422,
            "key_in_use",
        ),
        (
            "a bank without a view key",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Bank, "bank-b", &fresh_key(), None),
                },
                &[k0],
            ),
            422,
            "view_key_role",
        ),
        (
            "an officer with a view key",
            entry(
                seq,
                Action::Admit {
                    member: member(Role::Officer, "officer-3", &fresh_key(), Some(&fresh_key())),
                },
                &[k0, k1],
            ),
            422,
            "view_key_role",
        ),
        (
            "a threshold above the active officers",
            entry(seq, Action::SetThreshold { threshold: 4 }, &[k0, k1]),
            422,
            "bad_threshold",
        ),
        (
            "a threshold of zero",
            entry(seq, Action::SetThreshold { threshold: 0 }, &[k0, k1]),
            422,
            "bad_threshold",
        ),
        (
            "a genesis over the API",
            entry(
                seq,
                Action::Genesis {
                    ledger_key: net.block_key.public_key(),
                    threshold: 1,
                    supply_ceiling: Amount::new(1_000),
                    members: vec![member(Role::Officer, "officer-9", &fresh_key(), None)],
                },
                &[k0, k1],
            ),
            422,
            "genesis_misplaced",
        ),
        (
            "an unknown participant suspended",
            entry(
                seq,
                Action::Suspend {
                    id: "nobody".into(),
                },
                &[k0],
            ),
            404,
            "unknown_participant",
        ),
        (
            "an unknown participant re-keyed",
            entry(
                seq,
                Action::Rekey {
                    id: "nobody".into(),
                    key: fresh_key().public_key(),
                    view_key: None,
                },
                &[k0],
            ),
            404,
            "unknown_participant",
        ),
        (
            "an active participant reinstated",
            entry(
                seq,
                Action::Reinstate {
                    id: "bank-a".into(),
                },
                &[k0],
            ),
            422,
            "not_suspended",
        ),
        (
            "a sequence from the future",
            entry(
                seq + 1,
                Action::Suspend {
                    id: "bank-a".into(),
                },
                &[k0],
            ),
            409,
            "governance_sequence",
        ),
        (
            "a sequence from the past",
            entry(
                seq - 1,
                Action::Suspend {
                    id: "bank-a".into(),
                },
                &[k0],
            ),
            409,
            "governance_sequence",
        ),
    ];
    for (case, refused, status, code) in cases {
        assert_refused(
            case,
            post_entry(&officer_0, &as_body(&refused)).await,
            status,
            code,
        );
    }
    assert_eq!(sequence(&net).await, seq, "a refused entry was journaled");

    // A suspension, accepted; a reinstatement after it; then the exact body
    // of the suspension again: its approvals are bound to its sequence.
    let suspension = as_body(&entry(
        seq,
        Action::Suspend {
            id: "bank-a".into(),
        },
        &[k0],
    ));
    post_entry(&officer_0, &suspension).await.unwrap();
    assert_refused(
        "the same suspension twice",
        post_entry(&officer_0, &suspension).await,
        409,
        "governance_sequence",
    );
    net.officer(1)
        .govern(
            Action::Reinstate {
                id: "bank-a".into(),
            },
            &[],
        )
        .await
        .unwrap();
    assert_refused(
        "a suspension replayed after the reinstatement",
        post_entry(&officer_0, &suspension).await,
        409,
        "governance_sequence",
    );
    assert_eq!(
        participants(&officer_0).await["bank-a"]["status"],
        "active",
        "the replayed suspension took effect"
    );

    // Officer 1 suspended (3 active > threshold 2): its approvals no longer
    // count, not even of its own reinstatement, and it may not call the route.
    officer_0
        .suspend("officer-1", std::slice::from_ref(k2))
        .await
        .unwrap();
    let seq = sequence(&net).await;
    assert_eq!(seq, 5);
    let reinstate_1 = || Action::Reinstate {
        id: "officer-1".into(),
    };
    assert_refused(
        "an approval by a suspended officer",
        post_entry(&officer_0, &as_body(&entry(seq, reinstate_1(), &[k0, k1]))).await,
        422,
        "unknown_officer",
    );
    assert_refused(
        "a suspended officer calling the route",
        post_entry(
            &net.officer(1),
            &as_body(&entry(seq, reinstate_1(), &[k0, k2])),
        )
        .await,
        403,
        "suspended",
    );
    // Two active officers, threshold 2: neither may be suspended.
    assert_refused(
        "a suspension leaving fewer active officers than the threshold",
        post_entry(
            &officer_0,
            &as_body(&entry(
                seq,
                Action::Suspend {
                    id: "officer-2".into(),
                },
                &[k0, k2],
            )),
        )
        .await,
        422,
        "threshold_unreachable",
    );
    assert_refused(
        "a threshold above the two active officers",
        post_entry(
            &officer_0,
            &as_body(&entry(
                seq,
                Action::SetThreshold { threshold: 3 },
                &[k0, k2],
            )),
        )
        .await,
        422,
        "bad_threshold",
    );
    assert_refused(
        "the suspended officer suspended again",
        post_entry(
            &officer_0,
            &as_body(&entry(
                seq,
                Action::Suspend {
                    id: "officer-1".into(),
                },
                &[k0, k2],
            )),
        )
        .await,
        422,
        "not_active",
    );
    // A bank may read the ledger but not govern it.
    assert_refused(
        "a bank calling the route",
        net.bank_client()
            .govern(
                Action::Suspend {
                    id: "officer-2".into(),
                },
                &[k0.clone(), k2.clone()],
            )
            .await,
        403,
        "forbidden_role",
    );

    assert_eq!(sequence(&net).await, 5, "a refused entry was journaled");
    let head = net.ledger().store().chain_head().unwrap();
    assert_eq!(head.next_height, 5, "one block per accepted entry");
    let listed = participants(&officer_0).await;
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed["officer-1"]["status"], "suspended");
    assert_eq!(listed["bank-a"]["status"], "active");
    audit_passes(&net, 0).await;
    audit_offline(&net, Vec::new()).expect("the offline audit passes");
}

/// An officer approves, is suspended, and the proposal executes later: the
/// issue carries only the active officers' signatures, and needed two of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_by_an_officer_suspended_before_execution_is_not_counted() {
    let net = Net::start().await;
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(4_200))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    let first = net.officer(0).approve(&id).await.unwrap();
    assert_eq!(first["state"], "open");
    net.officer(1)
        .suspend("officer-0", &[net.officers[2].clone()])
        .await
        .unwrap();
    let second = net.officer(1).approve(&id).await.unwrap();
    assert_eq!(
        second["state"], "open",
        "the suspended officer's approval counted towards the threshold: {second}"
    );
    let done = net.officer(2).approve(&id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    let receipt: Receipt = serde_json::from_value(done["receipt"].clone()).unwrap();
    receipt.verify(&net.block_key.public_key()).unwrap();
    let issue = stored_issue(&net, &receipt).await;
    let mut want = vec![net.officers[1].public_key(), net.officers[2].public_key()];
    want.sort();
    assert_eq!(
        signers(&issue),
        want,
        "the issue must be signed by active officers only"
    );
    let audit = audit_passes(&net, 2).await;
    assert_eq!(audit["issued"], "4200");
    let report = audit_offline(&net, Vec::new()).expect("the offline audit passes");
    assert_eq!(report.issued, 4_200);
}

/// An officer's key replaced by a `rekey` entry (threshold approvals): the
/// old key no longer authenticates nor approves, the new one does both, keys
/// are never reused, and the change is replayed after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rekeyed_officer_acts_with_the_new_key_only() {
    let mut net = Net::start().await;
    let [k0, k1, k2] = [
        net.officers[0].clone(),
        net.officers[1].clone(),
        net.officers[2].clone(),
    ];
    let new_0 = fresh_key();
    let rekey = |key: &SecretKey, view_key: Option<&SecretKey>| Action::Rekey {
        id: "officer-0".into(),
        key: key.public_key(),
        view_key: view_key.map(SecretKey::public_key),
    };
    let seq = sequence(&net).await;
    for (case, refused, status, code) in [
        (
            "an officer re-keyed with one approval",
            entry(seq, rekey(&new_0, None), &[&k0]),
            422,
            "too_few_officers",
        ),
        (
            "an officer re-keyed to another officer's key",
            entry(seq, rekey(&k1, None), &[&k0, &k1]),
            422,
            "key_in_use",
        ),
        (
            "an officer re-keyed to its own key",
            entry(seq, rekey(&k0, None), &[&k0, &k1]),
            422,
            "key_in_use",
        ),
        (
            "an officer re-keyed with a view key",
            entry(seq, rekey(&new_0, Some(&fresh_key())), &[&k0, &k1]),
            422,
            "view_key_role",
        ),
        (
            "a bank re-keyed without a view key",
            entry(
                seq,
                Action::Rekey {
                    id: "bank-a".into(),
                    key: fresh_key().public_key(),
                    view_key: None,
                },
                &[&k0],
            ),
            422,
            "view_key_role",
        ),
    ] {
        assert_refused(
            case,
            post_entry(&net.officer(0), &as_body(&refused)).await,
            status,
            code,
        );
    }
    net.officer(1)
        .govern(rekey(&new_0, None), std::slice::from_ref(&k2))
        .await
        .unwrap();

    let old = net.officer(0);
    let (status, code) = refusal(old.request(Method::GET, "/v1/ledger", None).await);
    assert_eq!((status, code.as_str()), (401, "unknown_key"));
    let renewed = LedgerClient::new(net.base(), new_0.clone());
    let listed = participants(&renewed).await;
    assert_eq!(
        listed["officer-0"]["key"],
        hex::encode(new_0.public_key().as_bytes())
    );
    assert_eq!(listed["officer-0"]["status"], "active");
    let seq = renewed.governance_sequence().await.unwrap();
    assert_eq!(seq, 3);
    assert_refused(
        "an approval by the replaced key",
        post_entry(
            &renewed,
            &as_body(&entry(
                seq,
                Action::Suspend {
                    id: "bank-a".into(),
                },
                &[&k0],
            )),
        )
        .await,
        422,
        "unknown_officer",
    );
    assert_refused(
        "the replaced key given to someone else",
        post_entry(
            &renewed,
            &as_body(&entry(
                seq,
                Action::Rekey {
                    id: "officer-1".into(),
                    key: k0.public_key(),
                    view_key: None,
                },
                &[&new_0, &k2],
            )),
        )
        .await,
        422,
        "key_in_use",
    );
    let issue = issue_through(&net, 700, &[renewed.clone(), net.officer(1)]).await;
    let mut want = vec![new_0.public_key(), k1.public_key()];
    want.sort();
    assert_eq!(signers(&issue), want);
    audit_passes(&net, 2).await;
    audit_offline(&net, Vec::new()).expect("the offline audit passes");

    // The configuration must name officer 0 with its key in force (the
    // ledger refuses to start with a configuration the journal contradicts).
    net.officers[0] = new_0.clone();
    let listed_before = participants(&renewed).await;
    net.restart().await;
    let renewed = LedgerClient::new(net.base(), new_0.clone());
    assert_eq!(participants(&renewed).await, listed_before);
    let issue = issue_through(&net, 300, &[net.officer(2), renewed]).await;
    let mut want = vec![new_0.public_key(), k2.public_key()];
    want.sort();
    assert_eq!(signers(&issue), want);
    let audit = audit_passes(&net, 2).await;
    assert_eq!(audit["outstanding"], 1_000);
}

/// An officer approves an issue and is then re-keyed before it executes. Its
/// approval was signed by the key it no longer has, so it cannot be part of
/// the issue: like a suspended officer's, it must simply not count, and the
/// approvals of the other officers must still execute the proposal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_by_an_officer_rekeyed_before_execution_is_not_counted() {
    let net = Net::start().await;
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(900))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    assert_eq!(net.officer(0).approve(&id).await.unwrap()["state"], "open");
    let new_0 = fresh_key();
    net.officer(1)
        .govern(
            Action::Rekey {
                id: "officer-0".into(),
                key: new_0.public_key(),
                view_key: None,
            },
            &[net.officers[2].clone()],
        )
        .await
        .unwrap();
    let second = net.officer(1).approve(&id).await;
    let second = second.expect("officer 1's own approval is valid");
    assert_eq!(
        second["state"], "open",
        "the re-keyed officer's old approval counted: {second}"
    );
    let done = net.officer(2).approve(&id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    let receipt: Receipt = serde_json::from_value(done["receipt"].clone()).unwrap();
    let issue = stored_issue(&net, &receipt).await;
    let mut want = vec![net.officers[1].public_key(), net.officers[2].public_key()];
    want.sort();
    assert_eq!(signers(&issue), want);
    audit_passes(&net, 2).await;
}

/// A bank re-keyed while a proposal for it is open: the issue the proposal
/// now executes pays the new key, so an approval signed before (of an issue
/// to the old key) approves another issue and must not count; the approvals
/// given after the re-key must execute it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_given_before_the_bank_was_rekeyed_is_not_counted() {
    let net = Net::start().await;
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(800))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    assert_eq!(net.officer(0).approve(&id).await.unwrap()["state"], "open");
    let new_bank = WalletKeys::generate(&mut OsRng);
    net.officer(1)
        .govern(
            Action::Rekey {
                id: "bank-a".into(),
                key: new_bank.spend.public_key(),
                view_key: Some(new_bank.view.public_key()),
            },
            &[],
        )
        .await
        .unwrap();
    let second = net
        .officer(1)
        .approve(&id)
        .await
        .expect("officer 1 approves the issue to the new key");
    assert_eq!(
        second["state"], "open",
        "an approval of the issue to the old key counted: {second}"
    );
    let done = net.officer(2).approve(&id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    let receipt: Receipt = serde_json::from_value(done["receipt"].clone()).unwrap();
    let issue = stored_issue(&net, &receipt).await;
    assert_eq!(issue.outputs[0].owner, new_bank.spend.public_key());
    audit_passes(&net, 2).await;
}

/// A proposal for a bank that is suspended before it executes: a suspended
/// bank may not be proposed to (`not_eligible`), and, as with a suspended
/// officer's approval, what held at proposal time must hold again at
/// execution. The last approval must not issue, and the journal must not grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bank_suspended_before_execution_receives_nothing() {
    let net = Net::start().await;
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(900))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    assert_eq!(net.officer(0).approve(&id).await.unwrap()["state"], "open");
    net.officer(1).suspend("bank-a", &[]).await.unwrap();
    assert_refused(
        "a new proposal for the suspended bank",
        net.officer(0).propose("bank-a", Amount::new(900)).await,
        422,
        "not_eligible",
    );
    let head_before = net.ledger().store().chain_head().unwrap();
    match net.officer(1).approve(&id).await {
        Ok(view) => assert_ne!(
            view["state"], "executed",
            "the suspended bank received the issue: {view}"
        ),
        Err(ClientError::Api { status, .. }) => assert!((400..500).contains(&status)),
        Err(other) => panic!("{other}"),
    }
    assert_eq!(net.ledger().store().chain_head().unwrap(), head_before);
    audit_passes(&net, 2).await;
}

/// The supply ceiling fixed at genesis: refused at proposal when there is no
/// room, room made again by a redeem, and refused at execution when another
/// issue took the room after the proposal; the supply figures then agree
/// over the API, the audit job and the offline audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_supply_ceiling_holds_at_proposal_and_at_execution() {
    let net = Net::start_with_ceiling(1_000).await;
    let (_, notes_600) = net.issue(600).await;
    net.issue(400).await;
    let head = net.ledger().store().chain_head().unwrap();
    assert_eq!((head.outstanding, head.supply_ceiling), (1_000, 1_000));

    // At the ceiling: refused before any officer signs, and nothing recorded.
    assert_refused(
        "one unit above the ceiling",
        net.officer(0).propose("bank-a", Amount::new(1)).await,
        422,
        "supply_ceiling",
    );
    assert_refused(
        "far above the ceiling",
        net.officer(0)
            .propose("bank-a", Amount::new(u64::MAX))
            .await,
        422,
        "supply_ceiling",
    );

    // A redeem of 100 makes room for 100.
    let redeem = |notes: &[OwnedNote]| {
        build_redeem(
            std::slice::from_ref(&net.bank.spend),
            notes,
            Amount::new(100),
            &net.bank.address(),
            &mut OsRng,
        )
        .unwrap()
    };
    let first_redeem = redeem(&notes_600);
    net.bank_client().submit(&first_redeem.tx).await.unwrap();
    net.issue(100).await;
    assert_eq!(
        net.ledger().store().chain_head().unwrap().outstanding,
        1_000
    );

    // Room for 100 again; two proposals of 100 made while there is room.
    let second_redeem = redeem(&change_of(&first_redeem));
    net.bank_client().submit(&second_redeem.tx).await.unwrap();
    let late = net
        .officer(0)
        .propose("bank-a", Amount::new(100))
        .await
        .unwrap();
    let late_id = late["id"].as_str().unwrap().to_string();
    net.issue(100).await;
    let head_before = net.ledger().store().chain_head().unwrap();
    assert_eq!(head_before.outstanding, 1_000);
    let open = net.officer(0).approve(&late_id).await.unwrap();
    assert_eq!(open["state"], "open");
    assert_refused(
        "a proposal executed after another issue filled the ceiling",
        net.officer(1).approve(&late_id).await,
        422,
        "supply_ceiling",
    );
    let head_after = net.ledger().store().chain_head().unwrap();
    assert_eq!(
        head_after, head_before,
        "the refused issue changed the journal"
    );
    assert_eq!(
        net.officer(0).proposal(&late_id).await.unwrap()["state"],
        "open"
    );

    let audit = audit_passes(&net, 2).await;
    assert_eq!(audit["outstanding"], 1_000, "{audit}");
    let supply = net.bank_client().supply().await.unwrap();
    let audited = &supply["audited"];
    assert_eq!(audited["audit_id"], audit["id"], "{supply}");
    assert_eq!(audited["outstanding"], 1_000, "{supply}");
    assert_eq!(audited["issued"], "1200", "{supply}");
    assert_eq!(audited["redeemed"], "200", "{supply}");
    assert_eq!(audited["height"], head_after.next_height - 1, "{supply}");
    assert_eq!(supply["unaudited"]["outstanding"], head_after.outstanding);
    assert_eq!(supply["unaudited"]["outstanding"], 1_000);
    assert_eq!(supply["supply_ceiling"], 1_000);
    assert_eq!(ledger_info(&net.officer(0)).await["supply_ceiling"], 1_000);
    let report = audit_offline(&net, Vec::new()).expect("the offline audit passes");
    assert_eq!(report.outstanding, Amount::new(1_000));
    assert_eq!(report.supply_ceiling, Amount::new(1_000));
    assert_eq!((report.issued, report.redeemed), (1_200, 200));
}

/// A signed request without a body, answered with its status, `Location`
/// header and JSON body.
async fn send(
    net: &Net,
    key: &SecretKey,
    method: Method,
    path: &str,
) -> (u16, Option<String>, Value) {
    let headers = sign_request(key, method.as_str(), path, b"", now_ms(), &mut OsRng);
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", net.base()));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap();
    (status, location, body)
}

/// Polls an audit run until it is no longer running (at most [`WAIT_MAX`]).
async fn finished_audit(net: &Net, id: u64) -> Value {
    let started = Instant::now();
    loop {
        let run = net
            .officer(0)
            .request(Method::GET, &format!("/v1/audits/{id}"), None)
            .await
            .unwrap();
        if run["state"] != "running" {
            return run;
        }
        assert!(
            started.elapsed() < WAIT_MAX,
            "audit {id} still running after {WAIT_MAX:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every recorded audit run, oldest first: no run started before the one
/// before it finished.
fn assert_runs_never_overlapped(store: &Store) -> Vec<ledger_service::store::AuditRun> {
    let latest = store.latest_audit_run(false).unwrap().map_or(0, |r| r.id);
    let runs: Vec<_> = (1..=latest)
        .filter_map(|id| store.audit_run(id).unwrap())
        .collect();
    for pair in runs.windows(2) {
        let finished = pair[0]
            .finished_unix_ms
            .unwrap_or_else(|| panic!("run {} never finished: {:?}", pair[0].id, pair[0]));
        assert!(
            finished <= pair[1].started_unix_ms,
            "run {} started while run {} ran: {pair:?}",
            pair[1].id,
            pair[0].id
        );
    }
    runs
}

/// `POST /v1/audit` starts a job (202, `Location`), one at a time (409
/// `audit_running`), whose status resource reaches `passed`; `/v1/supply`
/// labels figures as audited only once one passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audits_are_background_jobs_one_at_a_time() {
    let net = Net::start().await;
    let (_, notes) = net.issue(5_000).await;
    let customer = WalletKeys::generate(&mut OsRng);
    net.bank_client()
        .submit(&pay(&net.bank, &notes, &customer, 1_250).tx)
        .await
        .unwrap();
    let officer = &net.officers[0];

    let supply = net.officer(0).supply().await.unwrap();
    assert_eq!(supply["audited"], Value::Null, "{supply}");
    assert_eq!(supply["last_audit"], Value::Null, "{supply}");
    assert_eq!(supply["running_audit"], Value::Null, "{supply}");
    assert_eq!(supply["unaudited"]["outstanding"], 5_000, "{supply}");
    assert_eq!(supply["unaudited"]["height"], 3, "{supply}");

    let (status, _, body) = send(&net, officer, Method::GET, "/v1/audits/999999").await;
    assert_eq!((status, &body["code"]), (404, &json!("unknown_audit")));
    let (status, _, body) = send(&net, officer, Method::GET, "/v1/audits/first").await;
    assert_eq!((status, &body["code"]), (400, &json!("bad_audit_id")));

    // Hold the audit at its first read of the journal: a lock on `blocks`
    // (nothing else takes one meanwhile) keeps the first run running for
    // certain while the second request arrives.
    let mut lock = PgConnection::establish(net.db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut lock).unwrap();
    diesel::sql_query("LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .unwrap();
    let (status, location, first) = send(&net, officer, Method::POST, "/v1/audit").await;
    assert_eq!(status, 202, "{first}");
    let id = first["id"].as_u64().expect("an audit id");
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/audits/{id}").as_str())
    );
    assert_eq!(first["state"], "running", "{first}");
    assert_eq!(first["trigger"], "request", "{first}");
    assert_eq!(first["outstanding"], Value::Null, "{first}");
    let (status, _, second) = send(&net, officer, Method::POST, "/v1/audit").await;
    assert_eq!(
        (status, &second["code"]),
        (409, &json!("audit_running")),
        "{second}"
    );
    let supply = net.bank_client().supply().await.unwrap();
    assert_eq!(supply["running_audit"], id, "{supply}");
    assert_eq!(supply["last_audit"]["state"], "running", "{supply}");
    assert_eq!(
        supply["audited"],
        Value::Null,
        "a running audit is no proof: {supply}"
    );
    let store = net.ledger().store();
    assert_eq!(
        store.latest_audit_run(false).unwrap().map(|r| r.id),
        Some(id),
        "the refused request recorded a run"
    );
    diesel::sql_query("ROLLBACK").execute(&mut lock).unwrap();
    drop(lock);

    let run = finished_audit(&net, id).await;
    assert_eq!(run["state"], "passed", "{run}");
    let latest = store.latest_block().unwrap().unwrap();
    assert_eq!(run["height"], latest.height);
    assert_eq!(run["block_hash"], hex::encode(latest.sealed.hash));
    assert_eq!(run["outstanding"], 5_000);
    assert_eq!(run["issued"], "5000");
    assert_eq!(run["redeemed"], "0");
    assert_eq!(run["problem"], Value::Null);
    let supply = net.bank_client().supply().await.unwrap();
    assert_eq!(supply["audited"]["audit_id"], id, "{supply}");
    assert_eq!(supply["audited"]["height"], latest.height, "{supply}");
    assert_eq!(
        supply["audited"]["block_hash"],
        hex::encode(latest.sealed.hash)
    );
    assert_eq!(supply["audited"]["outstanding"], 5_000, "{supply}");
    assert_eq!(supply["audited"]["issued"], "5000", "{supply}");
    assert_eq!(supply["running_audit"], Value::Null, "{supply}");

    // Without the lock, two requests back to back: the second is refused if
    // the first still runs, and starts a run of its own only after the first
    // finished.
    let (status, location, first) = send(&net, officer, Method::POST, "/v1/audit").await;
    assert_eq!(status, 202, "{first}");
    assert!(
        first["state"] == "running" || first["state"] == "passed",
        "{first}"
    );
    let first_id = first["id"].as_u64().unwrap();
    assert_eq!(location, Some(format!("/v1/audits/{first_id}")));
    let (status, _, second) = send(&net, officer, Method::POST, "/v1/audit").await;
    match status {
        409 => assert_eq!(second["code"], "audit_running", "{second}"),
        202 => {
            let second_id = second["id"].as_u64().unwrap();
            assert_ne!(second_id, first_id);
            let first_run = store.audit_run(first_id).unwrap().unwrap();
            assert_ne!(first_run.state, AuditState::Running, "{first_run:?}");
            assert_eq!(finished_audit(&net, second_id).await["state"], "passed");
        }
        other => panic!("a second audit request answered {other}: {second}"),
    }
    assert_eq!(finished_audit(&net, first_id).await["state"], "passed");
    let runs = assert_runs_never_overlapped(store);
    assert!(
        runs.iter().all(|r| r.state == AuditState::Passed),
        "{runs:?}"
    );
}

/// A ledger opened with `audit_every_blocks: 3` audits by itself once the
/// journal has grown by three blocks, and again after three more.
#[test]
fn the_schedule_audits_every_three_blocks() {
    let db = TestDatabase::postgres();
    let officers: Vec<SecretKey> = (0..3).map(|_| fresh_key()).collect();
    let block_key = fresh_key();
    let ledger = Ledger::open(
        LedgerConfig {
            database_url: db.url().to_string(),
            block_key: block_key.clone(),
            genesis: GenesisConfig {
                officers: officers
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        (
                            format!("officer-{i}"),
                            format!("Officer {i}"),
                            k.public_key(),
                        )
                    })
                    .collect(),
                threshold: 2,
                supply_ceiling: Amount::new(1_000_000),
            },
            batch_max: 64,
            queue_depth_max: 64,
            verifiers: 1,
            audit_every_blocks: 3,
        },
        Metrics::new(),
    )
    .unwrap();
    // Each admission is one block (they are committed one at a time).
    let admit_bank = |n: usize| {
        let spend = fresh_key();
        let view = fresh_key();
        let action = Action::Admit {
            member: member(Role::Bank, &format!("bank-{n}"), &spend, Some(&view)),
        };
        let sequence = ledger.governance().entries;
        ledger
            .submit_governance(entry(sequence, action, &[&officers[0]]))
            .unwrap()
    };
    let store = ledger.store().clone();
    let wait_for_passed_run = |after: Option<u64>| {
        let started = Instant::now();
        loop {
            if let Some(run) = store.latest_audit_run(true).unwrap() {
                if Some(run.id) != after {
                    return run;
                }
            }
            assert!(
                started.elapsed() < WAIT_MAX,
                "no scheduled audit after {WAIT_MAX:?}: {:?}",
                store.latest_audit_run(false).unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    admit_bank(1);
    assert_eq!(store.chain_head().unwrap().next_height, 2);
    // The schedule looks twice a second: two blocks are not enough.
    std::thread::sleep(Duration::from_millis(1_200));
    assert_eq!(store.latest_audit_run(false).unwrap(), None);
    let third = admit_bank(2);
    assert_eq!(third.block.height, 2);
    let run = wait_for_passed_run(None);
    assert_eq!(run.trigger, AuditTrigger::Schedule, "{run:?}");
    assert_eq!(run.outcome.height, Some(2), "{run:?}");
    assert_eq!(run.outcome.block_hash, Some(third.block.hash()), "{run:?}");

    let mut last = third;
    for n in 3..6 {
        last = admit_bank(n);
    }
    assert_eq!(last.block.height, 5);
    let again = wait_for_passed_run(Some(run.id));
    assert_eq!(again.trigger, AuditTrigger::Schedule, "{again:?}");
    assert_eq!(again.outcome.height, Some(5), "{again:?}");
    assert_runs_never_overlapped(&store);
    drop(ledger);
}

/// Deletes the last block and everything its transactions derived, as an
/// operator with write access to the database could: notes created, spends
/// undone, events, kernels, the transactions, the block, and the chain head
/// set back. For a block of transfers only (no issue, redeem or governance
/// rows to undo).
fn roll_back_last_transfer_block(url: &str, height: u64) {
    let mut conn = PgConnection::establish(url).unwrap();
    let height = i64::try_from(height).unwrap();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let kinds: Vec<KindRow> =
            diesel::sql_query("SELECT kind FROM transactions WHERE block_height = $1")
                .bind::<BigInt, _>(height)
                .load(conn)?;
        assert!(
            !kinds.is_empty() && kinds.iter().all(|k| k.kind == "transfer"),
            "block {height} is not transfers only: {kinds:?}"
        );
        let in_block = "(SELECT id FROM transactions WHERE block_height = $1)";
        for statement in [
            format!("DELETE FROM events WHERE tx_id IN {in_block}"),
            format!(
                "UPDATE notes SET spent_by = NULL, spent_seq = NULL WHERE spent_by IN {in_block}"
            ),
            format!("DELETE FROM notes WHERE created_by IN {in_block}"),
            format!("DELETE FROM kernels WHERE tx_id IN {in_block}"),
            "DELETE FROM transactions WHERE block_height = $1".to_string(),
            "DELETE FROM blocks WHERE height = $1".to_string(),
            "UPDATE chain_head SET next_height = $1, \
             tip_hash = (SELECT hash FROM blocks WHERE height = $1 - 1), \
             next_event_seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM events)"
                .to_string(),
        ] {
            diesel::sql_query(statement)
                .bind::<BigInt, _>(height)
                .execute(conn)?;
        }
        Ok(())
    })
    .unwrap();
}

#[derive(Debug, diesel::QueryableByName)]
struct KindRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
}

/// Where a receipt says its block is in the journal.
fn expectation(receipt: &Receipt, source: &str) -> Expectation {
    Expectation {
        height: receipt.block.height,
        hash: receipt.block.hash(),
        source: source.to_string(),
    }
}

/// A consistent rollback of the last block passes the audit of the database
/// alone (the documented limit), but not against a receipt of that block; a
/// different hash at a height the journal has is a fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolled_back_block_is_caught_only_against_a_receipt() {
    let net = Net::start().await;
    let (_, notes) = net.issue(10_000).await;
    let customer = WalletKeys::generate(&mut OsRng);
    let first = pay(&net.bank, &notes, &customer, 3_000);
    let first_receipt = net.bank_client().submit(&first.tx).await.unwrap();
    let second = pay(&net.bank, &change_of(&first), &customer, 2_000);
    let last_receipt = net.bank_client().submit(&second.tx).await.unwrap();
    last_receipt.verify(&net.block_key.public_key()).unwrap();
    let height = last_receipt.block.height;
    assert_eq!(
        last_receipt.block.tx_count, 1,
        "the last block is the transfer alone"
    );
    let latest = net.ledger().store().latest_block().unwrap().unwrap();
    assert_eq!(
        (latest.height, latest.sealed.hash),
        (height, last_receipt.block.hash())
    );

    let seen = vec![
        expectation(&first_receipt, "first.receipt"),
        expectation(&last_receipt, "last.receipt"),
    ];
    let before = audit_offline(&net, seen.clone()).expect("the journal holds both receipts");
    assert_eq!(before.height, Some(height));

    roll_back_last_transfer_block(net.db.url(), height);

    // From the database alone, a shorter but valid history.
    let after = audit_offline(&net, Vec::new()).expect("a consistent rollback is invisible");
    assert_eq!(after.height, Some(height - 1));
    assert_eq!(after.blocks, height);
    assert_eq!(after.outstanding, Amount::new(10_000));
    // The earlier receipt still matches…
    audit_offline(&net, vec![seen[0].clone()])
        .expect("the block before the rolled-back one is untouched");
    // …the receipt of the rolled-back block does not.
    match audit_offline(&net, seen.clone()) {
        Err(AuditFailure::Rollback(message)) => {
            assert!(
                message.contains(&format!("block {height} ")) && message.contains("rolled back"),
                "{message}"
            );
            assert!(message.contains("last.receipt"), "{message}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    // A hash other than the journal's at a height it has: a fork.
    let mut forged = seen[0].clone();
    forged.hash[0] ^= 1;
    match audit_offline(&net, vec![forged]) {
        Err(AuditFailure::Rollback(message)) => {
            assert!(
                message.contains(&format!("block {} ", height - 1)) && message.contains("fork"),
                "{message}"
            );
        }
        other => panic!("expected a fork, got {other:?}"),
    }
    // The block's hash seen one height lower is a fork too.
    let moved = Expectation {
        height: height - 1,
        hash: last_receipt.block.hash(),
        source: "moved".into(),
    };
    assert!(
        matches!(
            audit_offline(&net, vec![moved]),
            Err(AuditFailure::Rollback(_))
        ),
        "a hash at the wrong height passed"
    );
}
