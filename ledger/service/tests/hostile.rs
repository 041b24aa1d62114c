//! Hostile input against a running ledger, over real HTTP and raw TCP on a
//! real database (one fresh database per test): text the database would
//! refuse, amounts beyond what the store holds, ids of the wrong shape, loose
//! content types, undeclared methods, bodies and headers that never finish,
//! oversized and malformed bodies, bad query strings, and requests without
//! the right to call a route.
//!
//! Every answer is a 4xx with a JSON `{code, message}` — never a 500, never a
//! hang (issue 10, items 2 and 6). Each test checks every case and then fails
//! with the full list of mismatches, so one run shows everything that strays.

mod support;

use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::{
    build_transfer, Amount, Built, OwnedNote, Payment, Purpose, SecretKey, WalletKeys,
};
use ledger_service::auth::{HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use ledger_service::ledger::SUPPLY_CEILING_DEFAULT;
use rand::rngs::OsRng;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::http::{raw_connect, raw_signed_head, raw_wait_close, Http, Mismatches, Req};
use support::net::Net;
use support::TestDatabase;

/// The longest the server may take to end a request whose body (or head)
/// never arrives, counted from the last byte sent. The ledger's body timeout
/// is about 5 s; actix's client request timeout is 5 s.
const CUT_OFF_BOUND: Duration = Duration::from_secs(15);

/// A ledger with three officers (threshold 2) and no bank, on `db`: the
/// harness's own start admits a bank first, which these tests do themselves
/// when they need one; it also runs on SQLite, which `Net::start` does not.
fn net_on(db: TestDatabase) -> Net {
    let mut net = Net {
        node: None,
        queue_depth_max: 4096,
        supply_ceiling: SUPPLY_CEILING_DEFAULT,
        block_key: SecretKey::generate(&mut OsRng),
        officers: (0..3).map(|_| SecretKey::generate(&mut OsRng)).collect(),
        bank: WalletKeys::generate(&mut OsRng),
        db,
    };
    net.boot();
    net
}

/// An admission of a new bank called `name`, approved by officer 0.
fn admit_entry(net: &Net, sequence: u64, id: &str, name: &str) -> Value {
    let wallet = WalletKeys::generate(&mut OsRng);
    let member = Member {
        role: Role::Bank,
        id: id.to_owned(),
        name: name.to_owned(),
        key: wallet.spend.public_key(),
        view_key: Some(wallet.view.public_key()),
    };
    let mut entry = Governance::new(sequence, Action::Admit { member });
    entry.approve(&net.officers[0], &mut OsRng);
    serde_json::to_value(&entry).expect("entries serialise")
}

/// Every control character the rule refuses: U+0000–U+001F and U+007F.
fn control_characters() -> Vec<char> {
    (0u8..0x20).chain([0x7f]).map(char::from).collect()
}

/// Names with ordinary Unicode, which must still be admitted.
const UNICODE_NAMES: &[&str] = &["Banque Générale", "中文银行", "Bank 🏦 Ltd", "Ørsted & Søn"];

/// `n` transfers of 1 from the bank to a stranger, each spending the
/// previous one's change (the first spends `notes`).
fn transfer_chain(net: &Net, notes: &[OwnedNote], n: usize) -> Vec<Built> {
    let stranger = WalletKeys::generate(&mut OsRng);
    let mut notes = notes.to_vec();
    let mut chain = Vec::new();
    for _ in 0..n {
        let built = build_transfer(
            std::slice::from_ref(&net.bank.spend),
            &notes,
            &[Payment {
                to: stranger.address(),
                amount: Amount::new(1),
            }],
            &net.bank.address(),
            &mut OsRng,
        )
        .expect("a transfer");
        let change = built
            .outputs
            .iter()
            .find(|o| o.change)
            .expect("change back");
        notes = vec![OwnedNote {
            id: change.note,
            owner: net.bank.spend.public_key(),
            opening: change.opening.clone(),
        }];
        chain.push(built);
    }
    chain
}

fn tx_json(built: &Built) -> Vec<u8> {
    serde_json::to_vec(&built.tx).expect("transactions serialise")
}

/// A well-formed approval body (a real signature, over nothing in particular).
fn approval_body(officer: &SecretKey) -> Value {
    json!({"signature": officer.sign(Purpose::Officer, &[7u8; 32], &mut OsRng)})
}

/// Starts an audit over the API and waits for it; records a mismatch unless it passes.
async fn audit_passes(net: &Net, m: &mut Mismatches) -> Value {
    match net.officer(2).audit().await {
        Ok(run) => {
            m.expect(run["state"] == "passed", || {
                format!("the audit after the hostile requests did not pass: {run}")
            });
            run
        }
        Err(e) => {
            m.expect(false, || format!("the audit could not run: {e}"));
            Value::Null
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Text the database would refuse.

#[test]
fn the_cores_structural_checks_refuse_control_characters_in_names() {
    let key = SecretKey::generate(&mut OsRng);
    let member = |name: String| Member {
        role: Role::Bank,
        id: "bank-x".into(),
        name,
        key: key.public_key(),
        view_key: Some(SecretKey::generate(&mut OsRng).public_key()),
    };
    let mut m = Mismatches::new();
    for c in control_characters() {
        let entry = Governance::new(
            1,
            Action::Admit {
                member: member(format!("Bank{c}X")),
            },
        );
        let code = entry.check_structure().err().map(|r| r.code());
        m.expect(code == Some("bad_name"), || {
            format!(
                "a name with U+{:04X}: check_structure gave {code:?}, expected bad_name",
                u32::from(c)
            )
        });
    }
    for name in UNICODE_NAMES {
        let entry = Governance::new(
            1,
            Action::Admit {
                member: member((*name).to_owned()),
            },
        );
        let result = entry.check_structure();
        m.expect(result.is_ok(), || {
            format!("the name {name:?} is refused: {result:?}")
        });
    }
    m.finish("core name rule");
}

/// Admissions with control characters in the name are refused with 422
/// `bad_name` and leave no trace; Unicode names are admitted
/// and served back exactly.
async fn names_with_control_characters_are_refused(net: Net, backend: &str) {
    let http = Http::new(net.base());
    let officer = net.officer(0);
    let mut m = Mismatches::new();
    for (i, c) in control_characters().into_iter().enumerate() {
        let sequence = officer.governance_sequence().await.unwrap();
        let entry = admit_entry(&net, sequence, &format!("bad-{i}"), &format!("Bank{c}X"));
        let answer = http
            .send(
                Req::new("POST", "/v1/governance")
                    .json(&entry)
                    .signed(&net.officers[0]),
            )
            .await;
        m.refused(
            &format!("{backend}: admit a name with U+{:04X}", u32::from(c)),
            &answer,
            422,
            &["bad_name"],
        );
    }
    for (i, name) in UNICODE_NAMES.iter().enumerate() {
        let sequence = officer.governance_sequence().await.unwrap();
        let id = format!("unicode-{i}");
        let entry = admit_entry(&net, sequence, &id, name);
        let answer = http
            .send(
                Req::new("POST", "/v1/governance")
                    .json(&entry)
                    .signed(&net.officers[0]),
            )
            .await;
        m.status(&format!("{backend}: admit {name:?}"), &answer, 201);
    }
    let listed = http
        .send(Req::new("GET", "/v1/participants").signed(&net.officers[0]))
        .await
        .json()
        .unwrap_or(Value::Null);
    let names: Vec<&str> = listed["participants"]
        .as_array()
        .map(|all| all.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    for name in UNICODE_NAMES {
        m.expect(names.contains(name), || {
            format!("{backend}: {name:?} is not served back: {names:?}")
        });
    }
    m.expect(
        !names
            .iter()
            .any(|n| n.chars().any(|c| control_characters().contains(&c))),
        || format!("{backend}: a name with a control character was admitted: {names:?}"),
    );
    audit_passes(&net, &mut m).await;
    m.finish(&format!("names on {backend}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn participant_names_with_control_characters_are_refused_on_postgres() {
    names_with_control_characters_are_refused(net_on(TestDatabase::postgres()), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn participant_names_with_control_characters_are_refused_on_sqlite() {
    names_with_control_characters_are_refused(net_on(TestDatabase::sqlite()), "sqlite").await;
}

// ---------------------------------------------------------------------------
// 2. Amounts beyond what the store holds.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issuance_amounts_beyond_the_store_are_refused() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let officer = &net.officers[0];
    let mut m = Mismatches::new();
    let too_large = [
        ("ceiling + 1", (SUPPLY_CEILING_DEFAULT + 1).to_string()),
        ("2^63 - 1", i64::MAX.to_string()),
        ("2^63", (1u64 << 63).to_string()),
        ("u64::MAX", u64::MAX.to_string()),
    ];
    for (case, amount) in &too_large {
        let body = format!(r#"{{"bank_id":"bank-a","amount":{amount}}}"#);
        let answer = http
            .send(
                Req::new("POST", "/v1/issuances")
                    .body(Some("application/json"), body)
                    .signed(officer),
            )
            .await;
        let code = answer.code();
        m.expect(
            (400..500).contains(&answer.status)
                && matches!(code.as_deref(), Some("supply_ceiling" | "amount_too_large")),
            || {
                format!(
                    "propose {case} ({amount}): expected a 4xx supply_ceiling or \
                     amount_too_large, got {}",
                    answer.describe()
                )
            },
        );
    }
    let not_amounts = [
        ("above u64::MAX", "18446744073709551616"),
        (
            "far above u64::MAX",
            "340282366920938463463374607431768211456",
        ),
        ("negative", "-1"),
        ("fractional", "5.5"),
        ("a string", "\"5\""),
        ("null", "null"),
    ];
    for (case, amount) in not_amounts {
        let body = format!(r#"{{"bank_id":"bank-a","amount":{amount}}}"#);
        let answer = http
            .send(
                Req::new("POST", "/v1/issuances")
                    .body(Some("application/json"), body)
                    .signed(officer),
            )
            .await;
        m.refused(
            &format!("propose an amount that is {case} ({amount})"),
            &answer,
            400,
            &["invalid_json"],
        );
    }
    let run = audit_passes(&net, &mut m).await;
    m.expect(run["outstanding"] == 0, || {
        format!("money moved: the audit says {run}")
    });
    m.finish("issuance amounts");
}

// ---------------------------------------------------------------------------
// 3. Path ids of the wrong shape.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn path_ids_of_the_wrong_shape_are_refused() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let officer = &net.officers[0];
    let (receipt, notes) = net.issue(1_000).await;
    let tx = receipt.tx_id.to_string();
    let note = notes[0].id.to_string();
    let proposal = net
        .officer(0)
        .propose("bank-a", Amount::new(5))
        .await
        .unwrap();
    let proposal = proposal["id"].as_str().unwrap().to_owned();
    assert_eq!(tx.len(), 64, "transaction ids are 64 hex characters: {tx}");
    assert_eq!(proposal.len(), 32, "proposal ids are 32 hex characters");
    let mut m = Mismatches::new();
    // Well-shaped ids first: the refusals below are about shape, not existence.
    for (path, status) in [
        ("/v1/blocks/0".to_owned(), 200),
        ("/v1/blocks/1".to_owned(), 200),
        ("/v1/blocks/999".to_owned(), 404),
        (format!("/v1/transactions/{tx}"), 200),
        (format!("/v1/transactions/{}", "0".repeat(64)), 404),
        (format!("/v1/notes/{note}"), 200),
        (format!("/v1/notes/{}", "0".repeat(64)), 404),
        (format!("/v1/issuances/{proposal}"), 200),
        (format!("/v1/issuances/{}", "0".repeat(32)), 404),
        ("/v1/audits/999".to_owned(), 404),
    ] {
        let answer = http.send(Req::new("GET", &path).signed(officer)).await;
        m.status(&format!("GET {path} (well-shaped)"), &answer, status);
    }
    // Well-shaped numbers beyond what the store's BIGINT holds: not found
    // (or refused), never a database error.
    for (path, codes) in [
        (
            "/v1/blocks/9223372036854775808",
            ["unknown_block", "bad_height"],
        ),
        (
            "/v1/blocks/18446744073709551615",
            ["unknown_block", "bad_height"],
        ),
        (
            "/v1/audits/9223372036854775808",
            ["unknown_audit", "bad_audit_id"],
        ),
        (
            "/v1/audits/18446744073709551615",
            ["unknown_audit", "bad_audit_id"],
        ),
    ] {
        let answer = http.send(Req::new("GET", path).signed(officer)).await;
        let code = answer.code();
        m.expect(
            [400, 404].contains(&answer.status)
                && code.as_deref().is_some_and(|c| codes.contains(&c)),
            || {
                format!(
                    "GET {path}: expected 404 or 400 {codes:?}, got {}",
                    answer.describe()
                )
            },
        );
    }
    let bad_heights = [
        "+1",
        "01",
        "00",
        "-1",
        "18446744073709551616",
        "%201",
        "1%20",
        "0x1",
        "1.0",
        "%EF%BC%91", // a fullwidth digit one
    ];
    for height in bad_heights {
        let path = format!("/v1/blocks/{height}");
        let answer = http.send(Req::new("GET", &path).signed(officer)).await;
        m.refused(&format!("GET {path}"), &answer, 400, &["bad_height"]);
    }
    for id in ["+1", "0x1", "-1", "18446744073709551616", "%201"] {
        let path = format!("/v1/audits/{id}");
        let answer = http.send(Req::new("GET", &path).signed(officer)).await;
        m.refused(&format!("GET {path}"), &answer, 400, &["bad_audit_id"]);
    }
    let hex_shapes = |real: &str| {
        vec![
            ("63 hex", real[..63].to_owned()),
            ("65 hex", format!("{real}0")),
            ("66 hex", format!("{real}00")),
            ("non-hex", format!("{}g", &real[..63])),
            ("UPPERCASE", real.to_ascii_uppercase()),
            ("one uppercase", format!("{}A", &real[..63])),
            ("leading space", format!("%20{}", &real[..63])),
        ]
    };
    for (route, real, code) in [
        ("/v1/transactions", &tx, "bad_tx_id"),
        ("/v1/notes", &note, "bad_note_id"),
    ] {
        for (case, id) in hex_shapes(real) {
            let path = format!("{route}/{id}");
            let answer = http.send(Req::new("GET", &path).signed(officer)).await;
            m.refused(&format!("GET {route}/<{case}>"), &answer, 400, &[code]);
        }
    }
    let proposal_shapes = [
        ("31 hex", proposal[..31].to_owned()),
        ("33 hex", format!("{proposal}0")),
        ("64 hex", format!("{proposal}{proposal}")),
        ("non-hex", format!("{}z", &proposal[..31])),
        ("UPPERCASE", proposal.to_ascii_uppercase()),
    ];
    for (case, id) in &proposal_shapes {
        let path = format!("/v1/issuances/{id}");
        let answer = http.send(Req::new("GET", &path).signed(officer)).await;
        m.refused(
            &format!("GET /v1/issuances/<{case}>"),
            &answer,
            400,
            &["bad_proposal_id"],
        );
        let path = format!("/v1/issuances/{id}/approvals");
        let answer = http
            .send(
                Req::new("POST", &path)
                    .json(&approval_body(officer))
                    .signed(officer),
            )
            .await;
        m.refused(
            &format!("POST /v1/issuances/<{case}>/approvals"),
            &answer,
            400,
            &["bad_proposal_id"],
        );
    }
    m.finish("path ids");
}

// ---------------------------------------------------------------------------
// 4. Strict content types.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn content_types_are_strict() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let bank = &net.bank.spend;
    let officer = &net.officers[0];
    let (_, notes) = net.issue(1_000_000).await;
    let chain = transfer_chain(&net, &notes, 3);
    let mut m = Mismatches::new();
    // Refused first, with the first transfer of the chain: a wrong acceptance
    // commits it, and the accepted submission below then gets its receipt again.
    let json_tx = tx_json(&chain[0]);
    let binary_tx = chain[0].tx.encode();
    let refused: [(Option<&str>, &Vec<u8>); 9] = [
        (Some("text/plain"), &json_tx),
        (Some("text/plain; charset=utf-8"), &json_tx),
        (Some("application/x-www-form-urlencoded"), &json_tx),
        (Some("application/jsonx"), &json_tx),
        (Some("application/json-patch+json"), &json_tx),
        (Some("multipart/form-data; boundary=x"), &json_tx),
        (Some("application/octet-streamy"), &binary_tx),
        (None, &binary_tx),
        (None, &json_tx),
    ];
    for (content_type, body) in refused {
        let answer = http
            .send(
                Req::new("POST", "/v1/transactions")
                    .body(content_type, body.clone())
                    .signed(bank),
            )
            .await;
        m.refused(
            &format!("POST /v1/transactions as {content_type:?}"),
            &answer,
            415,
            &["unsupported_media_type"],
        );
    }
    let accepted = [
        ("application/json", tx_json(&chain[0])),
        ("application/json; charset=utf-8", tx_json(&chain[1])),
        ("application/octet-stream", chain[2].tx.encode()),
    ];
    for (content_type, body) in accepted {
        let answer = http
            .send(
                Req::new("POST", "/v1/transactions")
                    .body(Some(content_type), body)
                    .signed(bank),
            )
            .await;
        m.status(
            &format!("POST /v1/transactions as {content_type}"),
            &answer,
            200,
        );
    }
    // The other routes with a body take JSON only.
    let proposal = json!({"bank_id": "bank-a", "amount": 5});
    let open = net
        .officer(0)
        .propose("bank-a", Amount::new(7))
        .await
        .unwrap();
    let approvals = format!("/v1/issuances/{}/approvals", open["id"].as_str().unwrap());
    let sequence = net.officer(0).governance_sequence().await.unwrap();
    let entry = admit_entry(&net, sequence, "bank-ct", "Bank CT");
    let routes: [(&str, Value); 3] = [
        ("/v1/issuances", proposal.clone()),
        ("/v1/governance", entry),
        (&approvals, approval_body(officer)),
    ];
    for (path, body) in &routes {
        let body = serde_json::to_vec(body).unwrap();
        for content_type in [
            Some("text/plain"),
            Some("application/octet-stream"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonx"),
            None,
        ] {
            let answer = http
                .send(
                    Req::new("POST", path)
                        .body(content_type, body.clone())
                        .signed(officer),
                )
                .await;
            m.refused(
                &format!("POST {path} as {content_type:?}"),
                &answer,
                415,
                &["unsupported_media_type"],
            );
        }
    }
    let answer = http
        .send(
            Req::new("POST", "/v1/issuances")
                .body(
                    Some("application/json; charset=utf-8"),
                    serde_json::to_vec(&proposal).unwrap(),
                )
                .signed(officer),
        )
        .await;
    m.status(
        "POST /v1/issuances as application/json; charset=utf-8",
        &answer,
        201,
    );
    // A route that takes no body: empty and without a content type is fine.
    let answer = http
        .send(Req::new("POST", "/v1/audit").signed(officer))
        .await;
    m.status(
        "POST /v1/audit with no body and no content type",
        &answer,
        202,
    );
    m.finish("content types");
}

// ---------------------------------------------------------------------------
// 5. Undeclared methods and unknown routes.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undeclared_methods_are_405_with_allow_and_unknown_routes_404() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let officer = &net.officers[0];
    let mut m = Mismatches::new();
    let cases = [
        ("DELETE", "/v1/supply", "GET"),
        ("PUT", "/v1/transactions", "POST"),
        ("GET", "/v1/transactions", "POST"),
        ("POST", "/v1/blocks/latest", "GET"),
        ("GET", "/v1/audit", "POST"),
        ("PATCH", "/v1/ledger", "GET"),
        (
            "DELETE",
            "/v1/issuances/00000000000000000000000000000000",
            "GET",
        ),
        ("GET", "/v1/governance", "POST"),
    ];
    for (method, path, allowed) in cases {
        let answer = http.send(Req::new(method, path).signed(officer)).await;
        let case = format!("{method} {path}");
        m.refused(&case, &answer, 405, &["method_not_allowed"]);
        let allow = answer.header("allow");
        let listed: Vec<String> = allow
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .collect();
        m.expect(
            listed.iter().any(|a| a == allowed) && !listed.iter().any(|a| a == method),
            || format!("{case}: Allow should list {allowed} (and not {method}), got {allow:?}"),
        );
    }
    for path in ["/v1/nothing", "/v1/supply/extra", "/v2/supply", "/"] {
        let answer = http.send(Req::new("GET", path).signed(officer)).await;
        m.refused(&format!("GET {path} (signed)"), &answer, 404, &["no_route"]);
        let answer = http.get(path).await;
        m.refused(
            &format!("GET {path} (unsigned)"),
            &answer,
            404,
            &["no_route"],
        );
    }
    m.finish("methods and routes");
}

// ---------------------------------------------------------------------------
// 6. Bodies and heads that never finish.

/// The head of a signed `POST path` announcing 1,000 bytes of `content_type`.
fn slow_head(net: &Net, path: &str, content_type: &str, key: &SecretKey) -> String {
    raw_signed_head(
        key,
        "POST",
        path,
        &[("Content-Type", content_type), ("Content-Length", "1000")],
        &[b'{'; 1000],
    )
    .replace(
        "Host: 127.0.0.1",
        &format!("Host: {}", net.base().trim_start_matches("http://")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_that_never_arrives_is_answered_408_and_the_connection_closed() {
    let net = Net::start().await;
    let mut m = Mismatches::new();
    let bank = &net.bank.spend;
    let officer = &net.officers[0];
    let cases = [
        (
            "POST /v1/transactions, Content-Length 1000, 10 bytes sent",
            format!(
                "{}0123456789",
                slow_head(&net, "/v1/transactions", "application/octet-stream", bank)
            ),
        ),
        (
            "POST /v1/issuances, Content-Length 1000, 10 bytes sent",
            format!(
                "{}{{\"bank_id\"",
                slow_head(&net, "/v1/issuances", "application/json", officer)
            ),
        ),
        (
            "POST /v1/transactions, chunked, one chunk and no end",
            raw_signed_head(
                bank,
                "POST",
                "/v1/transactions",
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Transfer-Encoding", "chunked"),
                ],
                &[0u8; 1000],
            ) + "a\r\n0123456789\r\n",
        ),
    ];
    let base = net.base();
    let runs = cases.iter().map(|(case, bytes)| async move {
        let stream = raw_connect(base, bytes.as_bytes()).await;
        let sent = Instant::now();
        (
            *case,
            raw_wait_close(stream, sent, sent + CUT_OFF_BOUND).await,
        )
    });
    for (case, outcome) in futures_util::future::join_all(runs).await {
        println!(
            "{case}: status {:?}, closed after {:?}",
            outcome.status(),
            outcome.closed_after
        );
        m.expect(outcome.status() == Some(408), || {
            format!(
                "{case}: expected a 408 within {CUT_OFF_BOUND:?}, got {:?}: {:?}",
                outcome.status(),
                String::from_utf8_lossy(&outcome.received)
            )
        });
        let code = outcome
            .json()
            .and_then(|v| v["code"].as_str().map(str::to_owned));
        m.expect(code.as_deref() == Some("body_timeout"), || {
            format!("{case}: expected code body_timeout, got {code:?}")
        });
        m.expect(outcome.closed_after.is_some(), || {
            format!("{case}: the connection was still open after {CUT_OFF_BOUND:?}")
        });
    }
    // The ledger still serves.
    let http = Http::new(net.base());
    m.status("GET /healthz afterwards", &http.get("/healthz").await, 200);
    m.finish("slow bodies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_slow_bodies_at_once_are_all_closed() {
    const CONNECTIONS: usize = 200;
    let net = Net::start().await;
    let mut streams = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let head = slow_head(
            &net,
            "/v1/transactions",
            "application/octet-stream",
            &net.bank.spend,
        );
        streams.push(raw_connect(net.base(), format!("{head}0123456789").as_bytes()).await);
    }
    let sent = Instant::now();
    let deadline = sent + CUT_OFF_BOUND;
    let waits = streams
        .into_iter()
        .map(|stream| raw_wait_close(stream, sent, deadline));
    let outcomes = futures_util::future::join_all(waits).await;
    let still_open = outcomes.iter().filter(|o| o.closed_after.is_none()).count();
    let mut statuses = std::collections::BTreeMap::new();
    for outcome in &outcomes {
        *statuses.entry(outcome.status()).or_insert(0) += 1;
    }
    let slowest = outcomes.iter().filter_map(|o| o.closed_after).max();
    println!(
        "{CONNECTIONS} slow bodies: {still_open} still open after {CUT_OFF_BOUND:?}; \
         statuses {statuses:?}; the last closed after {slowest:?}"
    );
    // A fresh request is served while (or after) they are cut off.
    let healthy = Http::new(net.base()).get("/healthz").await;
    assert_eq!(
        still_open, 0,
        "{still_open} of {CONNECTIONS} connections with unfinished bodies were still open \
         after {CUT_OFF_BOUND:?} (statuses {statuses:?})"
    );
    assert_eq!(healthy.status, 200, "{}", healthy.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_head_that_never_finishes_is_closed() {
    let net = Net::start().await;
    let stream = raw_connect(net.base(), b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\n").await;
    let sent = Instant::now();
    let outcome = raw_wait_close(stream, sent, sent + CUT_OFF_BOUND).await;
    println!(
        "unfinished head: status {:?}, closed after {:?}",
        outcome.status(),
        outcome.closed_after
    );
    assert!(
        outcome.closed_after.is_some(),
        "a request head that never finished was still open after {CUT_OFF_BOUND:?}"
    );
}

// ---------------------------------------------------------------------------
// 7. Oversized and malformed bodies, bad query strings, bad header bytes.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_malformed_nested_and_unknown_bodies_are_refused() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let bank = &net.bank.spend;
    let officer = &net.officers[0];
    let (_, notes) = net.issue(1_000).await;
    let chain = transfer_chain(&net, &notes, 1);
    let open = net
        .officer(0)
        .propose("bank-a", Amount::new(3))
        .await
        .unwrap();
    let approvals = format!("/v1/issuances/{}/approvals", open["id"].as_str().unwrap());
    let mut m = Mismatches::new();
    // Oversized.
    let big = vec![b' '; 64 * 1024 + 1];
    for (path, content_type, key) in [
        ("/v1/transactions", "application/octet-stream", bank),
        ("/v1/transactions", "application/json", bank),
        ("/v1/issuances", "application/json", officer),
        ("/v1/governance", "application/json", officer),
    ] {
        let answer = http
            .send(
                Req::new("POST", path)
                    .body(Some(content_type), big.clone())
                    .signed(key),
            )
            .await;
        m.refused(
            &format!("POST {path} with 64 KiB + 1 of {content_type}"),
            &answer,
            413,
            &["body_too_large"],
        );
    }
    // Not JSON, or not UTF-8.
    let mut nested_object = "{\"a\":".repeat(10_000);
    nested_object.push('1');
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", b"{not json".to_vec()),
        (
            "invalid UTF-8",
            b"{\"bank_id\":\"\xff\xfe\",\"amount\":5}".to_vec(),
        ),
        (
            "a lone surrogate",
            br#"{"bank_id":"\ud800","amount":5}"#.to_vec(),
        ),
        (
            "trailing garbage",
            br#"{"bank_id":"bank-a","amount":5} x"#.to_vec(),
        ),
        ("10,000 [", "[".repeat(10_000).into_bytes()),
        ("10,000 nested objects", nested_object.into_bytes()),
    ];
    for (path, key) in [
        ("/v1/transactions", bank),
        ("/v1/issuances", officer),
        ("/v1/governance", officer),
        (approvals.as_str(), officer),
    ] {
        for (case, body) in &malformed {
            let answer = http
                .send(
                    Req::new("POST", path)
                        .body(Some("application/json"), body.clone())
                        .signed(key),
                )
                .await;
            let code = if body.is_empty() {
                "empty_body"
            } else {
                "invalid_json"
            };
            m.refused(
                &format!("POST {path} with {case} JSON"),
                &answer,
                400,
                &[code],
            );
        }
    }
    // Well-formed JSON with fields nobody declared (or declared twice).
    let sequence = net.officer(0).governance_sequence().await.unwrap();
    let mut entry = admit_entry(&net, sequence, "bank-extra", "Bank Extra");
    entry["extra"] = json!(1);
    let mut member_extra = admit_entry(&net, sequence, "bank-extra", "Bank Extra");
    member_extra["action"]["member"]["extra"] = json!(1);
    let mut tx_extra: Value = serde_json::from_slice(&tx_json(&chain[0])).unwrap();
    tx_extra["extra"] = json!(1);
    let mut approval_extra = approval_body(officer);
    approval_extra["extra"] = json!(1);
    let unknown: Vec<(&str, &str, &SecretKey, Vec<u8>)> = vec![
        (
            "an extra field",
            "/v1/issuances",
            officer,
            br#"{"bank_id":"bank-a","amount":5,"extra":1}"#.to_vec(),
        ),
        (
            "a duplicated field",
            "/v1/issuances",
            officer,
            br#"{"bank_id":"bank-a","amount":5,"amount":6}"#.to_vec(),
        ),
        (
            "an extra field",
            "/v1/governance",
            officer,
            serde_json::to_vec(&entry).unwrap(),
        ),
        (
            "an extra field in the member",
            "/v1/governance",
            officer,
            serde_json::to_vec(&member_extra).unwrap(),
        ),
        (
            "an extra field",
            approvals.as_str(),
            officer,
            serde_json::to_vec(&approval_extra).unwrap(),
        ),
        (
            "an extra field",
            "/v1/transactions",
            bank,
            serde_json::to_vec(&tx_extra).unwrap(),
        ),
    ];
    for (case, path, key, body) in unknown {
        let answer = http
            .send(
                Req::new("POST", path)
                    .body(Some("application/json"), body)
                    .signed(key),
            )
            .await;
        m.expect(answer.status == 400 && answer.code().is_some(), || {
            format!(
                "POST {path} with {case}: expected 400 with a code, got {}",
                answer.describe()
            )
        });
    }
    m.status("GET /healthz afterwards", &http.get("/healthz").await, 200);
    let run = audit_passes(&net, &mut m).await;
    m.expect(run["outstanding"] == 1_000, || {
        format!("money moved: the audit says {run}")
    });
    m.finish("bodies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_query_strings_are_refused() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let bank = &net.bank.spend;
    let mut m = Mismatches::new();
    for query in [
        "after=0",
        "limit=1",
        "limit=1000",
        "after=0&limit=1000&wait_ms=0",
    ] {
        let path = format!("/v1/events?{query}");
        let answer = http.send(Req::new("GET", &path).signed(bank)).await;
        m.status(&format!("GET {path}"), &answer, 200);
    }
    // Beyond what the store's BIGINT holds: an empty page or a refusal, never a database error.
    for query in ["after=9223372036854775808", "after=18446744073709551615"] {
        let path = format!("/v1/events?{query}");
        let answer = http.send(Req::new("GET", &path).signed(bank)).await;
        let fine = match answer.status {
            200 => answer.json().is_some_and(|v| v["events"] == json!([])),
            400 => answer.code().as_deref() == Some("bad_query"),
            _ => false,
        };
        m.expect(fine, || {
            format!(
                "GET {path}: expected 200 with no events or 400 bad_query, got {}",
                answer.describe()
            )
        });
    }
    let owner_63 = "a".repeat(63);
    let owner_upper = "A".repeat(64);
    let bad = [
        "limit=0".to_owned(),
        "limit=1001".to_owned(),
        "limit=abc".to_owned(),
        "limit=-1".to_owned(),
        "limit=4294967296".to_owned(),
        "after=-1".to_owned(),
        "after=18446744073709551616".to_owned(),
        "after=1&after=2".to_owned(),
        "wait_ms=abc".to_owned(),
        "wait_ms=-1".to_owned(),
        "owner=zz".to_owned(),
        format!("owner={owner_63}"),
        format!("owner={owner_upper}"),
        "foo=1".to_owned(),
        "after=0&foo=1".to_owned(),
    ];
    for query in &bad {
        let path = format!("/v1/events?{query}");
        let answer = http.send(Req::new("GET", &path).signed(bank)).await;
        m.refused(
            &format!("GET {path}"),
            &answer,
            400,
            &["bad_query", "bad_owner"],
        );
    }
    m.finish("query strings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auth_headers_with_non_ascii_bytes_are_malformed() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let officer = &net.officers[0];
    let mut m = Mismatches::new();
    let garbage = [
        (
            "latin-1 bytes",
            HeaderValue::from_bytes(b"\xff\xfe\xfd").unwrap(),
        ),
        (
            "UTF-8 text",
            HeaderValue::from_bytes("１２３é".as_bytes()).unwrap(),
        ),
    ];
    for header in [HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE] {
        for (case, value) in &garbage {
            for (method, path) in [("GET", "/v1/supply"), ("POST", "/v1/audit")] {
                let answer = http
                    .send(
                        Req::new(method, path)
                            .signed(officer)
                            .header(header, value.clone()),
                    )
                    .await;
                m.refused(
                    &format!("{method} {path} with {case} in {header}"),
                    &answer,
                    401,
                    &["malformed_auth_header"],
                );
            }
        }
    }
    m.finish("auth header bytes");
}

// ---------------------------------------------------------------------------
// 8. Who may call what.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsigned_requests_are_401_and_banks_may_not_call_officer_routes() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let mut m = Mismatches::new();
    let proposal = "0".repeat(32);
    let id = "0".repeat(64);
    let routes = [
        ("GET", "/v1/ledger".to_owned(), false),
        ("POST", "/v1/governance".to_owned(), true),
        ("GET", "/v1/participants".to_owned(), false),
        // A bank may propose its own float and read its own proposals
        // (another bank's is refused: tests/api.rs, tests/cli.rs).
        ("POST", "/v1/issuances".to_owned(), false),
        ("GET", format!("/v1/issuances/{proposal}"), false),
        ("POST", format!("/v1/issuances/{proposal}/approvals"), true),
        ("POST", "/v1/transactions".to_owned(), false),
        ("GET", format!("/v1/transactions/{id}"), false),
        ("GET", format!("/v1/notes/{id}"), false),
        ("GET", "/v1/events".to_owned(), false),
        ("GET", "/v1/events?after=0&limit=10".to_owned(), false),
        ("GET", "/v1/supply".to_owned(), false),
        ("POST", "/v1/audit".to_owned(), true),
        ("GET", "/v1/audits/1".to_owned(), false),
        ("GET", "/v1/blocks/latest".to_owned(), false),
        ("GET", "/v1/blocks/0".to_owned(), false),
    ];
    for (method, path, officers_only) in &routes {
        let answer = http.send(Req::new(method, path)).await;
        m.refused(
            &format!("{method} {path} unsigned"),
            &answer,
            401,
            &["unauthenticated"],
        );
        if *method == "POST" {
            let answer = http
                .send(Req::new(method, path).json(&json!({"x": 1})))
                .await;
            m.refused(
                &format!("{method} {path} unsigned with a JSON body"),
                &answer,
                401,
                &["unauthenticated"],
            );
        }
        if *officers_only {
            let answer = http
                .send(Req::new(method, path).signed(&net.bank.spend))
                .await;
            m.refused(
                &format!("{method} {path} by a bank"),
                &answer,
                403,
                &["forbidden_role"],
            );
        }
    }
    m.finish("who may call what");
}
