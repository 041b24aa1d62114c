//! The ledger over real HTTP on a real PostgreSQL database (one fresh database per
//! test): double spends under concurrency, idempotent resubmission, restart,
//! maker–checker issuance, the event feed, and a table of bad requests over every
//! route, each of which must be a 4xx with a JSON `{code, message}`.

mod support;

use futures_util::future::join_all;
use ledger_core::{
    build_redeem, build_transfer, Amount, OwnedNote, Payment, Receipt, SecretKey, Transaction,
    WalletKeys,
};
use ledger_service::auth::{sign_request, HEADER_TIMESTAMP};
use ledger_service::client::{ClientError, LedgerClient};
use ledger_service::ledger::now_ms;
use rand::rngs::OsRng;
use reqwest::Method;
use serde_json::{json, Value};
use support::net::Net;

fn pay(bank: &WalletKeys, notes: &[OwnedNote], to: &WalletKeys, amount: u64) -> ledger_core::Built {
    build_transfer(
        std::slice::from_ref(&bank.spend),
        notes,
        &[Payment {
            to: to.address(),
            amount: Amount::new(amount),
        }],
        &bank.address(),
        &mut OsRng,
    )
    .unwrap()
}

fn api_code(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Api { status, code, .. } => (status, code),
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_spends_of_one_note_commit_exactly_once() {
    let net = Net::start().await;
    let (_, notes) = net.issue(1_000_000).await;
    let txs: Vec<Transaction> = (0..200)
        .map(|_| pay(&net.bank, &notes, &WalletKeys::generate(&mut OsRng), 1_000).tx)
        .collect();
    let client = net.bank_client();
    let results = join_all(txs.iter().map(|tx| client.submit(tx))).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let mut codes = std::collections::HashMap::new();
    for r in results.into_iter().filter_map(Result::err) {
        *codes.entry(api_code(r).1).or_insert(0) += 1;
    }
    assert_eq!(accepted, 1, "{codes:?}");
    assert_eq!(codes.get("spent_input"), Some(&199), "{codes:?}");
    let report = net.audit_ok().await;
    assert_eq!(report["outstanding"], 1_000_000);
    let note = client.note(&notes[0].id).await.unwrap();
    assert_eq!(note["spent"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resubmission_returns_the_first_receipt_and_restart_keeps_everything() {
    let mut net = Net::start().await;
    let (issue_receipt, notes) = net.issue(500_000).await;
    let customer = WalletKeys::generate(&mut OsRng);
    let built = pay(&net.bank, &notes, &customer, 120_000);
    let first = net.bank_client().submit(&built.tx).await.unwrap();
    let again = net.bank_client().submit(&built.tx).await.unwrap();
    assert_eq!(first, again);
    first.verify(&net.block_key.public_key()).unwrap();
    let before = net.audit_ok().await;

    net.restart().await;

    // Receipts obtained before the restart still verify against the same journal.
    let stored = net.bank_client().transaction(&first.tx_id).await.unwrap();
    let receipt: Receipt = serde_json::from_value(stored["receipt"].clone()).unwrap();
    assert_eq!(receipt, first);
    let stored = net
        .bank_client()
        .transaction(&issue_receipt.tx_id)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_value::<Receipt>(stored["receipt"].clone()).unwrap(),
        issue_receipt
    );
    assert_eq!(net.audit_ok().await, before);
    for output in &built.outputs {
        let note = net.bank_client().note(&output.note).await.unwrap();
        assert_eq!(note["spent"], false);
    }
    // And the ledger keeps working: the change pays again, a redeem burns.
    let change: Vec<OwnedNote> = built
        .outputs
        .iter()
        .filter(|o| o.change)
        .map(|o| o.owned_note())
        .collect();
    let redeem = build_redeem(
        std::slice::from_ref(&net.bank.spend),
        &change,
        Amount::new(80_000),
        &net.bank.address(),
        &mut OsRng,
    )
    .unwrap();
    net.bank_client().submit(&redeem.tx).await.unwrap();
    let report = net.audit_ok().await;
    assert_eq!(report["outstanding"], 420_000);
    assert_eq!(report["redeemed"], 80_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_banks_redeem_and_transfers_to_customers_need_their_keys() {
    let net = Net::start().await;
    let (_, notes) = net.issue(10_000).await;
    let customer = WalletKeys::generate(&mut OsRng);
    let built = pay(&net.bank, &notes, &customer, 4_000);
    net.bank_client().submit(&built.tx).await.unwrap();
    let customer_notes: Vec<OwnedNote> = built
        .outputs
        .iter()
        .filter(|o| !o.change)
        .map(|o| o.owned_note())
        .collect();
    // The bank submits a redeem of its customer's note: signed by the customer, but
    // the customer is not a bank.
    let redeem = build_redeem(
        std::slice::from_ref(&customer.spend),
        &customer_notes,
        Amount::new(4_000),
        &customer.address(),
        &mut OsRng,
    )
    .unwrap();
    let (status, code) = api_code(net.bank_client().submit(&redeem.tx).await.unwrap_err());
    assert_eq!((status, code.as_str()), (403, "redeem_not_bank"));
    // A transfer of the customer's note signed by the bank instead of the customer.
    let stolen: Vec<OwnedNote> = customer_notes
        .iter()
        .map(|n| OwnedNote {
            owner: net.bank.spend.public_key(),
            ..n.clone()
        })
        .collect();
    let theft = pay(&net.bank, &stolen, &net.bank, 4_000);
    let (status, code) = api_code(net.bank_client().submit(&theft.tx).await.unwrap_err());
    assert_eq!((status, code.as_str()), (422, "bad_owner_signature"));
    net.audit_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issuance_needs_m_distinct_active_officers() {
    let net = Net::start().await;
    let supply_before = net.officer(0).supply().await.unwrap();
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(777))
        .await
        .unwrap();
    let id = proposal["id"].as_str().unwrap().to_string();
    // M − 1 approvals: nothing is issued.
    let one = net.officer(0).approve(&id).await.unwrap();
    assert_eq!(one["state"], "open");
    assert_eq!(one["receipt"], Value::Null);
    assert_eq!(
        net.officer(0).supply().await.unwrap()["issued"],
        supply_before["issued"]
    );
    // The same officer twice.
    let (status, code) = api_code(net.officer(0).approve(&id).await.unwrap_err());
    assert_eq!((status, code.as_str()), (409, "duplicate_approval"));
    // An unknown key.
    let stranger = LedgerClient::new(net.base(), SecretKey::generate(&mut OsRng));
    let (status, code) = api_code(stranger.approve(&id).await.unwrap_err());
    assert_eq!((status, code.as_str()), (401, "unknown_key"));
    // A bank cannot approve.
    let (status, code) = api_code(net.bank_client().approve(&id).await.unwrap_err());
    assert_eq!((status, code.as_str()), (403, "forbidden_role"));
    // Officer 0 is suspended by officer 2: its approval no longer counts, and it can no longer act.
    // (An officer's suspension needs the threshold's approvals.)
    net.officer(2)
        .suspend("officer-0", &[net.officers[1].clone()])
        .await
        .unwrap();
    let (status, code) = api_code(net.officer(0).approve(&id).await.unwrap_err());
    assert_eq!((status, code.as_str()), (403, "suspended"));
    let two = net.officer(1).approve(&id).await.unwrap();
    assert_eq!(
        two["state"], "open",
        "a suspended officer's approval must not count"
    );
    let three = net.officer(2).approve(&id).await.unwrap();
    assert_eq!(three["state"], "executed");
    let receipt: Receipt = serde_json::from_value(three["receipt"].clone()).unwrap();
    receipt.verify(&net.block_key.public_key()).unwrap();
    // An executed proposal cannot be approved into a second issue.
    let late = LedgerClient::new(net.base(), net.officers[1].clone());
    let (status, code) = api_code(late.approve(&id).await.unwrap_err());
    assert_eq!(status, 409, "{code}");
    let report = net.audit_ok().await;
    assert_eq!(report["issued"], 777);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_event_feed_long_polls_for_a_banks_new_notes() {
    let net = Net::start().await;
    let (_, notes) = net.issue(9_000).await;
    let customer = WalletKeys::generate(&mut OsRng);
    let client = net.bank_client();
    let after = client.events(0, None, 0).await.unwrap()["next"]
        .as_u64()
        .unwrap();
    let owner = customer.spend.public_key();
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move { client.events(after, Some(&owner), 10_000).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let built = pay(&net.bank, &notes, &customer, 2_500);
    net.bank_client().submit(&built.tx).await.unwrap();
    let answer = waiter.await.unwrap().unwrap();
    let events = answer["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer}");
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["owner"], hex::encode(owner.as_bytes()));
    let paid = built.outputs.iter().find(|o| !o.change).unwrap();
    assert_eq!(events[0]["note_id"], paid.note.to_string());
}

/// Sends one request with full control over signing, returning (status, JSON body).
async fn raw(
    base: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path}"),
    );
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: {status} is not JSON: {text}"));
    (status, value)
}

fn assert_error(case: &str, (status, body): &(u16, Value), want_status: u16, want_code: &str) {
    assert_eq!(*status, want_status, "{case}: {body}");
    assert_eq!(body["code"], want_code, "{case}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_bad_request_on_every_route_is_a_4xx_json_error() {
    let net = Net::start().await;
    let base = net.base().to_string();
    let officer = &net.officers[0];
    let routes: &[(&str, &str, bool)] = &[
        // (method, path, officers only)
        ("GET", "/v1/ledger", false),
        ("GET", "/v1/participants", false),
        ("POST", "/v1/governance", true),
        // A bank may propose its own float and read its own proposals.
        ("POST", "/v1/issuances", false),
        (
            "GET",
            "/v1/issuances/00000000000000000000000000000000",
            false,
        ),
        (
            "POST",
            "/v1/issuances/00000000000000000000000000000000/approvals",
            true,
        ),
        ("POST", "/v1/transactions", false),
        (
            "GET",
            &format!("/v1/transactions/{}", "00".repeat(32)),
            false,
        ),
        ("GET", &format!("/v1/notes/{}", "00".repeat(32)), false),
        ("GET", "/v1/events?after=0", false),
        ("GET", "/v1/supply", false),
        ("POST", "/v1/audit", true),
        ("GET", "/v1/audits/1", false),
        ("GET", "/v1/blocks/latest", false),
        ("GET", "/v1/blocks/0", false),
    ];
    let sign = |key: &SecretKey, method: &str, path: &str, body: &[u8], at: u64| {
        sign_request(key, method, path, body, at, &mut OsRng).to_vec()
    };
    for (method, path, officers_only) in routes {
        let case = format!("{method} {path}");
        // Not signed at all.
        assert_error(
            &format!("{case} unsigned"),
            &raw(&base, method, path, vec![], vec![]).await,
            401,
            "unauthenticated",
        );
        // Signed by a key the ledger does not know.
        let stranger = SecretKey::generate(&mut OsRng);
        let headers = sign(&stranger, method, path, b"", now_ms());
        assert_error(
            &format!("{case} unknown key"),
            &raw(&base, method, path, vec![], headers).await,
            401,
            "unknown_key",
        );
        // Signed over another body.
        let headers = sign(officer, method, path, b"{}", now_ms());
        assert_error(
            &format!("{case} wrong body"),
            &raw(&base, method, path, b"{ }".to_vec(), headers).await,
            401,
            "bad_request_signature",
        );
        // Stale.
        let headers = sign(officer, method, path, b"", now_ms() - 3_600_000);
        assert_error(
            &format!("{case} stale"),
            &raw(&base, method, path, vec![], headers).await,
            401,
            "stale_request",
        );
        // Garbage in an auth header.
        let mut headers = sign(officer, method, path, b"", now_ms());
        headers.retain(|(name, _)| *name != HEADER_TIMESTAMP);
        headers.push((HEADER_TIMESTAMP, "yesterday".into()));
        assert_error(
            &format!("{case} malformed header"),
            &raw(&base, method, path, vec![], headers).await,
            401,
            "malformed_auth_header",
        );
        // Oversized.
        let big = vec![b' '; 70 * 1024];
        let headers = sign(officer, method, path, &big, now_ms());
        assert_error(
            &format!("{case} oversized"),
            &raw(&base, method, path, big, headers).await,
            413,
            "body_too_large",
        );
        // Replayed: the first may succeed or fail on its merits, the copy is refused.
        let body = b"{\"x\": 1}".to_vec();
        let headers = sign(officer, method, path, &body, now_ms());
        let (first, _) = raw(&base, method, path, body.clone(), headers.clone()).await;
        assert!(first < 500, "{case}: first copy answered {first}");
        assert_error(
            &format!("{case} replayed"),
            &raw(&base, method, path, body, headers).await,
            401,
            "replayed_request",
        );
        if *method == "POST" {
            // Malformed JSON, properly signed: a 400 (or 401/403 before parsing for the wrong role).
            let key = if *officers_only {
                officer
            } else {
                &net.bank.spend
            };
            let body = b"{not json".to_vec();
            let headers = sign(key, method, path, &body, now_ms());
            let answer = raw(&base, method, path, body, headers).await;
            assert!(
                (400..500).contains(&answer.0),
                "{case} malformed: {answer:?}"
            );
            assert!(answer.1["code"].is_string(), "{case}: {answer:?}");
        }
        if *officers_only {
            let headers = sign(&net.bank.spend, method, path, b"", now_ms());
            assert_error(
                &format!("{case} as a bank"),
                &raw(&base, method, path, vec![], headers).await,
                403,
                "forbidden_role",
            );
        }
    }
    // Copies of one signed request racing each other: the request gate
    // admits them in groups, and exactly one copy gets through.
    let headers = sign(officer, "GET", "/v1/ledger", b"", now_ms());
    let copies = futures_util::future::join_all(
        (0..32).map(|_| raw(&base, "GET", "/v1/ledger", vec![], headers.clone())),
    )
    .await;
    let passed = copies.iter().filter(|(status, _)| *status == 200).count();
    let replayed = copies
        .iter()
        .filter(|(status, body)| *status == 401 && body["code"] == "replayed_request")
        .count();
    assert_eq!((passed, replayed), (1, 31), "{copies:?}");
    // Routes and methods that do not exist.
    assert_error(
        "unknown route",
        &raw(&base, "GET", "/v1/nothing", vec![], vec![]).await,
        404,
        "no_route",
    );
    assert_error(
        "wrong method",
        &raw(&base, "DELETE", "/v1/supply", vec![], vec![]).await,
        405,
        "method_not_allowed",
    );
    // Bodies that parse as JSON but are wrong.
    let bad_bodies: &[(&str, &str, Value, u16, &str)] = &[
        (
            "POST",
            "/v1/issuances",
            json!({"bank_id": "bank-a", "amount": 0}),
            400,
            "zero_amount",
        ),
        (
            "POST",
            "/v1/issuances",
            json!({"bank_id": "nobody", "amount": 5}),
            422,
            "not_eligible",
        ),
        (
            "POST",
            "/v1/issuances",
            json!({"bank_id": "bank-a", "amount": -5}),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/v1/issuances",
            json!({"bank_id": "bank-a", "amount": 5, "extra": 1}),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/v1/governance",
            json!({"sequence": 2, "action": {"type": "admit"}}),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/v1/governance",
            json!({"sequence": 0, "action": {"type": "suspend", "id": "bank-a"}}),
            409,
            "governance_sequence",
        ),
        (
            "POST",
            "/v1/governance",
            json!({"sequence": 2, "action": {"type": "suspend", "id": "nobody"}}),
            404,
            "unknown_participant",
        ),
        (
            "POST",
            "/v1/governance",
            json!({"sequence": 2, "action": {"type": "suspend", "id": "bank-a"}}),
            422,
            "too_few_officers",
        ),
        ("GET", "/v1/audits/x", json!(null), 400, "bad_audit_id"),
        ("GET", "/v1/audits/999", json!(null), 404, "unknown_audit"),
        ("GET", "/v1/blocks/abc", json!(null), 400, "bad_height"),
        ("GET", "/v1/blocks/999", json!(null), 404, "unknown_block"),
        ("GET", "/v1/notes/zz", json!(null), 400, "bad_note_id"),
        (
            "GET",
            "/v1/issuances/zz",
            json!(null),
            400,
            "bad_proposal_id",
        ),
        ("GET", "/v1/events?after=-1", json!(null), 400, "bad_query"),
    ];
    for (method, path, body, status, code) in bad_bodies {
        let body = if body.is_null() {
            vec![]
        } else {
            serde_json::to_vec(body).unwrap()
        };
        let headers = sign(officer, method, path, &body, now_ms());
        assert_error(
            &format!("{method} {path} {}", String::from_utf8_lossy(&body)),
            &raw(&base, method, path, body, headers).await,
            *status,
            code,
        );
    }
    // A bank proposing for another bank is refused before anything else.
    let body = serde_json::to_vec(&json!({"bank_id": "bank-b", "amount": 5})).unwrap();
    let headers = sign(&net.bank.spend, "POST", "/v1/issuances", &body, now_ms());
    assert_error(
        "a bank proposing for another bank",
        &raw(&base, "POST", "/v1/issuances", body, headers).await,
        403,
        "not_own_bank",
    );
    // Transactions that are not transactions.
    let bank = &net.bank.spend;
    for (body, code) in [
        (b"{\"kind\": \"transfer\"}".to_vec(), "invalid_json"),
        (b"[]".to_vec(), "invalid_json"),
    ] {
        let headers = sign(bank, "POST", "/v1/transactions", &body, now_ms());
        assert_error(
            code,
            &raw(&base, "POST", "/v1/transactions", body, headers).await,
            400,
            code,
        );
    }
    // An issue cannot be submitted directly: unsigned it is malformed, and even
    // signed by officers it must come from a proposal.
    let mut issue = ledger_core::build_issue(
        ledger_core::IssueReference([7; 32]),
        &[(net.bank.spend.public_key(), Amount::new(5))],
        &mut OsRng,
    )
    .unwrap();
    let body = serde_json::to_vec(&Transaction::Issue(issue.clone())).unwrap();
    let headers = sign(bank, "POST", "/v1/transactions", &body, now_ms());
    let (status, answer) = raw(&base, "POST", "/v1/transactions", body, headers).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("0 officer signatures")),
        "{answer}"
    );
    issue.sign(&net.officers[0], &mut OsRng);
    issue.sign(&net.officers[1], &mut OsRng);
    let body = serde_json::to_vec(&Transaction::Issue(issue)).unwrap();
    let headers = sign(bank, "POST", "/v1/transactions", &body, now_ms());
    assert_error(
        "issue",
        &raw(&base, "POST", "/v1/transactions", body, headers).await,
        422,
        "issue_not_submittable",
    );
    // Nothing above may have moved money.
    net.audit_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_answers_503_with_retry_after_and_loses_nothing() {
    let net = Net::start_with(1).await;
    let (_, notes) = net.issue(1_000_000).await;
    let txs: Vec<Transaction> = (0..60)
        .map(|_| pay(&net.bank, &notes, &WalletKeys::generate(&mut OsRng), 10).tx)
        .collect();
    let base = net.base().to_string();
    let answers = join_all(txs.iter().map(|tx| {
        let body = tx.encode();
        let headers = sign_request(
            &net.bank.spend,
            "POST",
            "/v1/transactions",
            &body,
            now_ms(),
            &mut OsRng,
        );
        let base = base.clone();
        async move {
            let client = reqwest::Client::new();
            let mut request = client.post(format!("{base}/v1/transactions"));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request
                .header("content-type", "application/octet-stream")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }
    }))
    .await;
    let accepted = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    let spent = answers
        .iter()
        .filter(|(s, _, b)| *s == 409 && b["code"] == "spent_input")
        .count();
    assert_eq!(accepted, 1, "{answers:?}");
    assert!(!busy.is_empty(), "a queue of 1 never filled: {answers:?}");
    for (_, retry_after, body) in &busy {
        assert_eq!(body["code"], "busy");
        assert!(retry_after.is_some(), "503 without Retry-After");
    }
    assert_eq!(accepted + busy.len() + spent, answers.len(), "{answers:?}");
    let report = net.audit_ok().await;
    assert_eq!(report["outstanding"], 1_000_000);
}

/// A full audit replays the whole journal on every core: `POST /v1/audit`
/// starts one in the background (202, its status resource), a second request
/// while one runs is refused with 409 `audit_running` and records no run, and
/// the next one after it runs normally. The running audit is held up
/// deterministically by a lock on `blocks` that the test holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_full_audit_runs_at_a_time() {
    use diesel::{Connection, RunQueryDsl};
    let net = Net::start().await;
    net.issue(5_000).await;
    let runs_before = net
        .ledger()
        .store()
        .latest_audit_run(false)
        .unwrap()
        .map_or(0, |run| run.id);
    let (locked, release) = std::sync::mpsc::channel::<()>();
    let (unlock, released) = std::sync::mpsc::channel::<()>();
    let url = net.db.url().to_string();
    let holder = std::thread::spawn(move || {
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::sql_query("LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE").execute(conn)?;
            locked.send(()).unwrap();
            released.recv().unwrap();
            Ok(())
        })
        .unwrap();
    });
    release.recv().unwrap();
    let (status, started) = raw(
        net.base(),
        "POST",
        "/v1/audit",
        vec![],
        sign_request(
            &net.officers[2],
            "POST",
            "/v1/audit",
            b"",
            now_ms(),
            &mut OsRng,
        )
        .to_vec(),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["state"], "running", "{started}");
    let id = started["id"].as_u64().unwrap();
    assert!(id > runs_before);
    let refused = net
        .officer(1)
        .request(Method::POST, "/v1/audit", None)
        .await;
    assert_eq!(
        api_code(refused.unwrap_err()),
        (409, "audit_running".to_string())
    );
    assert_eq!(
        net.ledger()
            .store()
            .latest_audit_run(false)
            .unwrap()
            .map(|run| run.id),
        Some(id),
        "the refused request recorded a run"
    );
    unlock.send(()).unwrap();
    holder.join().unwrap();
    let report = net.audit_ok().await;
    assert_eq!(report["outstanding"], 5_000);
    let finished = net
        .officer(0)
        .request(Method::GET, &format!("/v1/audits/{id}"), None)
        .await
        .unwrap();
    assert_eq!(finished["state"], "passed", "{finished}");
    let supply = net.officer(0).supply().await.unwrap();
    assert_eq!(supply["audited"]["outstanding"], 5_000, "{supply}");
    assert_eq!(supply["running_audit"], Value::Null, "{supply}");
}
