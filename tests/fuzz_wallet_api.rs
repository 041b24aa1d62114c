//! The wallet API fuzzed against its own OpenAPI document, with its
//! credentials: `scripts/fuzz-wallet-api.sh` (schemathesis, every check,
//! seeded) at its CI size — every operation of a `cbdc wallet-api serve` in
//! front of a devnet's two gateways, ten examples each, with the right app
//! key, wallet token and operator token per route, with none, and with real
//! credentials in the wrong place. Its `unsupported_method` check asks every
//! documented path with methods the document does not list: `405` with
//! `Allow`. The full size is the script's default:
//! `scripts/fuzz-wallet-api.sh` (fifty examples, three passes).
//!
//! An operation with a known disagreement between the document and the
//! service is left out of the first test and fuzzed alone by an ignored one
//! that names the bug, so the rest stays blocking.

use std::process::Command;
use std::time::Instant;

/// Operations whose document the service contradicts (see the ignored
/// test), `;`-separated.
const KNOWN_BUGS: &str = "POST /v1/operator/apps;POST /v1/wallets/{wallet_id}/requests";

/// Runs the script with `env`; panics with its reports unless it passes.
/// Returns what it printed and the role pass's request log.
fn fuzz(env: &[(&str, &str)]) -> (String, String) {
    let have = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have,
        "schemathesis is required: pip install -r clients/python/requirements-test.txt \
         (README, \"Before you build\")"
    );
    let out = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let started = Instant::now();
    let run = Command::new("bash")
        .arg(format!("{root}/scripts/fuzz-wallet-api.sh"))
        .current_dir(root)
        .env("CBDC_BIN", env!("CARGO_BIN_EXE_cbdc"))
        .env("FUZZ_MAX_EXAMPLES", "10")
        .env("FUZZ_PASSES", "role none swapped")
        .env("FUZZ_SEED", "1")
        .env("FUZZ_OUT", out.path())
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .env_remove("FUZZ_WALLET_API_DATABASE_URL")
        .output()
        .expect("bash runs scripts/fuzz-wallet-api.sh");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    if !run.status.success() {
        let mut reports = String::new();
        for entry in std::fs::read_dir(out.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "txt") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                reports.push_str(&format!("==> {}\n{text}\n", entry.path().display()));
            }
        }
        panic!(
            "scripts/fuzz-wallet-api.sh failed ({}):\n{stderr}\n{reports}",
            run.status
        );
    }
    for pass in ["role", "none", "swapped"] {
        assert!(stderr.contains(&format!("pass {pass}:")), "{stderr}");
    }
    let role = std::fs::read_to_string(out.path().join("role.requests.jsonl")).unwrap();
    println!(
        "{stderr}(scripts/fuzz-wallet-api.sh took {:.0?})",
        started.elapsed()
    );
    (stderr, role)
}

#[test]
fn every_wallet_api_operation_answers_as_its_document_says_under_schemathesis() {
    let (_, role) = fuzz(&[("FUZZ_EXCLUDE", KNOWN_BUGS)]);
    // The unsupported_method check ran, and found the 405s.
    assert!(
        role.lines().any(|l| l.contains("\"status\": 405")),
        "no request of the role pass was answered 405"
    );
    // The credentials were right: requests of a wallet, of the app alone and
    // of the operator were let in.
    for operation in [
        "GET /v1/wallets/{wallet_id}\"",
        "GET /v1/banks\"",
        "GET /v1/operator/apps\"",
    ] {
        assert!(
            role.lines()
                .any(|l| l.contains(operation) && l.contains("\"status\": 200")),
            "no request of {operation} was answered 200 in the role pass"
        );
    }
}

#[test]
#[ignore = "bug: POST /v1/operator/apps {\"name\": \"\\u00923\\ud934\\udf8a\"} is 400 bad_name, \
            POST …/requests {\"amount\": 1826353, \"reference\": \"…\\u0011…\"} is 400 \
            bad_reference: control characters the schemas (1 to 100, 1 to 140 characters) admit"]
fn registering_apps_and_payment_requests_answer_as_their_document_says_under_schemathesis() {
    fuzz(&[("FUZZ_ONLY", KNOWN_BUGS), ("FUZZ_MAX_EXAMPLES", "100")]);
}
