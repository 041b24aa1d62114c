//! The deployment files of `deploy/` (the Dockerfile, the compose file, the
//! Kubernetes manifests, Prometheus' and Grafana's files) checked statically:
//! no container engine runs in CI, so `deploy/check.py` parses them, validates
//! the manifests against the Kubernetes schemas and holds every command, flag,
//! environment variable, setting, port, probe path and metric they name to the
//! code — and to this build's binary, whose `--help` it asks. Its self-test
//! breaks a copy of `deploy/` in many ways and must see each one caught.
//!
//! Needs Python 3 with the packages of `clients/python/requirements-test.txt`
//! (PyYAML, kubernetes-validate).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cbdc");

/// Runs `python3 deploy/check.py ARGS` from the repository's root, prints
/// what it said (shown on failure, or with `--nocapture`) and asserts it
/// passed within `limit`.
fn check(args: &[&str], limit: Duration) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let output = Command::new("python3")
        .arg(root.join("deploy").join("check.py"))
        .args(args)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 runs (Python 3 is needed for the tests)");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    assert!(
        output.status.success(),
        "python3 deploy/check.py {} failed ({}); the end of its report:\n{tail}\n{stderr}",
        args.join(" "),
        output.status,
    );
    assert!(
        elapsed < limit,
        "python3 deploy/check.py {} took {elapsed:?} (at most {limit:?})",
        args.join(" ")
    );
}

#[test]
fn the_deployment_files_name_only_what_the_code_and_the_binary_have() {
    check(&["--cbdc", BIN], Duration::from_secs(30));
}

#[test]
fn the_deployment_checks_catch_broken_files() {
    check(&["--self-test"], Duration::from_secs(30));
}
