//! The gateway's HTTP edges, as the ledger has them (`cbdc-http`, shared):
//! a documented path asked with another method is `405` with `Allow` and a
//! JSON error, an unknown path `404 no_route`; bodies are JSON of at most
//! 64 KiB, where `5.0` is the integer 5 (as the document's `integer` says);
//! and every `/v1` operation documents the refusals it can answer.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{bank, key, phone, Auth, Ledger, Mismatches};

/// One raw request: status, `Allow` header and JSON body (`null` if none).
async fn send(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Option<String>, Value) {
    let client = reqwest::Client::new();
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client
        .request(method.clone(), format!("{base}{path}"))
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request = request.header("idempotency-key", key());
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap_or("").to_string());
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        allow,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn methods_routes_bodies_and_the_document_answer_as_the_ledger_does() {
    let ledger = Ledger::start().await;
    let (bank_a, gateway) = bank(&ledger, "bank-a", 10_000_000).await;
    let api = &gateway.api;
    let base = api.base.clone();
    let internal = Some(bank_a.internal_token.as_str());
    let operator = Some(bank_a.operator_token.as_str());
    let mut m = Mismatches::new();
    let (wallet, account) = api.wallet_with_account(1_000_000).await;
    let w = wallet.id;

    // A documented path with an undocumented method: 405, Allow, JSON.
    let cases: [(&str, String, &str, Option<&str>); 8] = [
        ("DELETE", format!("/v1/wallets/{w}"), "GET, PATCH", internal),
        ("PUT", "/v1/wallets".into(), "POST", internal),
        ("GET", format!("/v1/wallets/{w}/fund"), "POST", internal),
        (
            "DELETE",
            format!("/v1/wallets/{w}/payments/1"),
            "GET",
            internal,
        ),
        ("POST", "/v1/operator/float".into(), "GET", operator),
        (
            "PATCH",
            "/v1/operator/held/00/release".into(),
            "POST",
            operator,
        ),
        // Without a token too: the method is wrong whoever asks.
        ("TRACE", "/healthz".into(), "GET", None),
        ("POST", "/openapi.json".into(), "GET", None),
    ];
    for (method, path, allowed, token) in cases {
        let (status, allow, body) = send(&base, method, &path, token, None, vec![]).await;
        m.check(
            status == 405
                && allow.as_deref() == Some(allowed)
                && body["code"] == "method_not_allowed"
                && body["message"]
                    .as_str()
                    .is_some_and(|s| s.contains(allowed)),
            || format!("{method} {path}: 405 with Allow: {allowed}, got {status} {allow:?} {body}"),
        );
    }
    // Unknown paths: 404 no_route, no Allow.
    for path in [
        "/v1/nothing".to_string(),
        format!("/v1/wallets/{w}/fund/more"),
        "/v2/wallets".into(),
        "/".into(),
    ] {
        let (status, allow, body) = send(&base, "GET", &path, internal, None, vec![]).await;
        m.check(
            status == 404 && allow.is_none() && body["code"] == "no_route",
            || format!("GET {path}: 404 no_route, got {status} {allow:?} {body}"),
        );
    }

    // Bodies: the media type, the size, malformed JSON, `5.0`.
    let fund = format!("/v1/wallets/{w}/fund");
    let (status, _, body) = send(
        &base,
        "POST",
        &fund,
        internal,
        Some("text/plain"),
        b"{\"amount\": 5}".to_vec(),
    )
    .await;
    m.check(
        status == 415 && body["code"] == "unsupported_media_type",
        || format!("a text/plain body: 415, got {status} {body}"),
    );
    let (status, _, body) = send(
        &base,
        "POST",
        &fund,
        internal,
        None,
        b"{\"amount\": 5}".to_vec(),
    )
    .await;
    m.check(
        status == 415 && body["code"] == "unsupported_media_type",
        || format!("a body without Content-Type: 415, got {status} {body}"),
    );
    let big = format!("{{\"amount\": 5, \"pad\": \"{}\"}}", "x".repeat(70 * 1024)).into_bytes();
    let (status, _, body) = send(
        &base,
        "POST",
        &fund,
        internal,
        Some("application/json"),
        big,
    )
    .await;
    m.check(status == 413 && body["code"] == "body_too_large", || {
        format!("a 70 KiB body: 413, got {status} {body}")
    });
    for bad in [
        &b"{\"amount\": "[..],
        b"{\"amount\": 5.5}",
        b"{\"amount\": \"5\"}",
        b"{\"amount\": 5, \"amount\": 6}",
        b"{\"amount\": 5, \"memo\": 1}",
    ] {
        let (status, _, body) = send(
            &base,
            "POST",
            &fund,
            internal,
            Some("application/json"),
            bad.to_vec(),
        )
        .await;
        m.check(status == 400 && body["code"] == "invalid_json", || {
            format!(
                "{}: 400 invalid_json, got {status} {body}",
                String::from_utf8_lossy(bad)
            )
        });
    }
    let (status, _, body) = send(
        &base,
        "POST",
        &fund,
        internal,
        Some("application/json"),
        b"{\"amount\": 1000.0}".to_vec(),
    )
    .await;
    m.check(status == 200 && body["amount"] == 1000, || {
        format!("an amount of 1000.0 is 1000: got {status} {body}")
    });
    let (status, _, body) = send(
        &base,
        "POST",
        &fund,
        internal,
        Some("application/vnd.api+json"),
        b"{\"amount\": 1e3}".to_vec(),
    )
    .await;
    m.check(status == 200 && body["amount"] == 1000, || {
        format!("an amount of 1e3 (+json) is 1000: got {status} {body}")
    });

    // What the document admits is taken: limits of 1 to 500, a deposit
    // reference of 200 characters (not bytes), a national id of 64.
    for limit in [1, 500] {
        let answer = api
            .internal(
                Method::GET,
                &format!("/v1/wallets/{w}/history?limit={limit}"),
                None,
            )
            .await;
        m.check(answer.status == 200, || {
            format!("history limit {limit}: {}", answer.describe())
        });
    }
    let answer = api
        .internal(
            Method::GET,
            &format!("/v1/wallets/{w}/history?limit=501"),
            None,
        )
        .await;
    m.check(answer.status == 400, || {
        format!("history limit 501: {}", answer.describe())
    });
    let answer = api
        .operator(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/deposits"),
            Some(&json!({"amount": 1, "reference": "é".repeat(200)})),
        )
        .await;
    m.check(answer.status == 200, || {
        format!(
            "a reference of 200 two-byte characters: {}",
            answer.describe()
        )
    });
    let tier = format!("/v1/operator/customers/{}/tier", wallet.customer_id);
    let answer = api
        .operator(
            Method::POST,
            &tier,
            Some(&json!({"tier": "verified", "national_id": "ü".repeat(64)})),
        )
        .await;
    m.check(answer.status == 200, || {
        format!(
            "a national id of 64 two-byte characters: {}",
            answer.describe()
        )
    });
    for national_id in [json!(""), json!(" \t "), json!("x".repeat(65))] {
        let answer = api
            .operator(
                Method::POST,
                &tier,
                Some(&json!({"tier": "anonymous", "national_id": national_id})),
            )
            .await;
        m.check(answer.code() == "bad_national_id", || {
            format!(
                "national id {national_id}: 400 bad_national_id, {}",
                answer.describe()
            )
        });
    }
    let other = api.open_wallet(&phone()).await;
    let answer = api
        .call(
            Method::POST,
            &format!("/v1/operator/customers/{}/tier", other.customer_id),
            Auth::Operator,
            None,
            Some(&json!({"tier": "verified"})),
        )
        .await;
    m.check(answer.code() == "national_id_required", || {
        format!("verified without a national id: {}", answer.describe())
    });

    // The document: every /v1 operation documents 401, 403 and 503; one with
    // a body 400, 413 and 415; a tier is one of the configured ones, and any
    // but the lowest needs a national id.
    let document = api
        .call(Method::GET, "/openapi.json", Auth::None, None, None)
        .await
        .expect(200, "the document");
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1")) {
        for (method, operation) in item.as_object().expect("an item") {
            let responses = &operation["responses"];
            let mut wanted = vec!["401", "403", "503"];
            if operation.get("requestBody").is_some() {
                wanted.extend(["400", "413", "415"]);
            }
            if path.contains('{') || operation.get("parameters").is_some() {
                wanted.push("400");
            }
            for status in wanted {
                m.check(responses.get(status).is_some(), || {
                    format!("{method} {path} documents {status}: {responses}")
                });
            }
        }
    }
    let tier_schema = &document["components"]["schemas"]["TierRequest"];
    m.check(
        tier_schema["properties"]["tier"]["enum"] == json!(["anonymous", "verified"])
            && tier_schema["anyOf"][0]["properties"]["tier"]["const"] == "anonymous",
        || format!("TierRequest names the tiers: {tier_schema}"),
    );
    m.finish("the gateway's HTTP edges");
}
