//! The ledger's API fuzzed against its own OpenAPI document, with signed
//! requests: `scripts/fuzz-api.sh` (schemathesis, every check, seeded) at its
//! CI size — every operation, five examples each, with the right key per
//! route and without any. The full size is the script's default:
//! `scripts/fuzz-api.sh` (fifty examples, four passes).

use std::process::Command;

#[test]
fn every_operation_answers_as_its_document_says_under_schemathesis() {
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
    let run = Command::new("bash")
        .arg(format!("{root}/scripts/fuzz-api.sh"))
        .current_dir(root)
        .env("CBDC_BIN", env!("CARGO_BIN_EXE_cbdc"))
        .env("FUZZ_MAX_EXAMPLES", "5")
        .env("FUZZ_PASSES", "role none")
        .env("FUZZ_SEED", "1")
        .env("FUZZ_OUT", out.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("bash runs scripts/fuzz-api.sh");
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        let mut reports = String::new();
        for entry in std::fs::read_dir(out.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "txt") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                reports.push_str(&format!("==> {}\n{text}\n", entry.path().display()));
            }
        }
        panic!(
            "scripts/fuzz-api.sh failed ({}):\n{stderr}\n{reports}",
            run.status
        );
    }
    assert!(stderr.contains("pass role:"), "{stderr}");
    assert!(stderr.contains("pass none:"), "{stderr}");
}
