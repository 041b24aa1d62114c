//! End-to-end tests of the `cbdc` binary, run as a user would: a child process
//! with arguments, an exit code, stdout and stderr.
//!
//! What they hold the binary to:
//! * `devnet --once` works on a fresh directory and again on the same one (a
//!   restart reuses the keys and the database), and `audit` agrees with it;
//! * an export audits to the same figures, and every tampering of an export or of
//!   the database fails the audit with one line on stderr that names the problem;
//! * bad input fails fast with one `cbdc: ...` line and a non-zero exit, never a
//!   panic, a backtrace or a long hang;
//! * key files are private (0600) and hold keys that parse;
//! * `ledger serve` runs maker–checker issuance over HTTP, exposes its probes,
//!   metrics and OpenAPI document, and keeps the supply across a crash.
//!
//! The SQLite tests remove `DATABASE_URL` (and every other `CBDC_*` setting)
//! from the child's environment, so a developer's PostgreSQL is never touched.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use ledger_core::{Address, Amount, PublicKey, Receipt, SecretKey, WalletKeys};
use ledger_service::client::LedgerClient;
use serde_json::{json, Value};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cbdc");

/// A command that finishes takes well under a second; a child still running after
/// this long is hung (e.g. a connection pool retrying a bad database for 30 s).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// The variables that would point a child at another database, ledger or key.
const ISOLATED_ENV: &[&str] = &[
    "DATABASE_URL",
    "CBDC_LEDGER_URL",
    "CBDC_KEY_FILE",
    "CBDC_CONFIG",
    "CBDC_LISTEN",
    "CBDC_BLOCK_KEY",
    "CBDC_THRESHOLD",
    "CBDC_WORKERS",
    "CBDC_LOG_FORMAT",
];

fn cbdc_command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    for name in ISOLATED_ENV {
        command.env_remove(name);
    }
    // Warnings and errors still reach stderr, so a test sees any log line next to
    // the error message; a panic would print a backtrace.
    command
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs `cbdc args...` to completion, failing the test if it hangs.
fn cbdc(args: &[&str]) -> Output {
    let mut child = cbdc_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the cbdc binary starts");
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stdout.read_to_end(&mut buffer);
        buffer
    });
    let err_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer);
        buffer
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for cbdc") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr =
                String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
            panic!(
                "`cbdc {}` still running after {COMMAND_TIMEOUT:?}; stderr:\n{stderr}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
fn expect_ok(args: &[&str]) -> String {
    let out = cbdc(args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "`cbdc {}` failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        args.join(" "),
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "`cbdc {}` panicked:\n{stderr}",
        args.join(" ")
    );
    stdout
}

/// Asserts a clean failure: exit code 1 or 2 (a panic exits 101), nothing on
/// stdout, and stderr is exactly one line, `cbdc: ...`, containing every needle.
/// Returns that line.
#[track_caller]
fn expect_error(args: &[&str], needles: &[&str]) -> String {
    let out = cbdc(args);
    check_error(&format!("cbdc {}", args.join(" ")), &out, needles)
}

#[track_caller]
fn check_error(what: &str, out: &Output, needles: &[&str]) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let code = out.status.code();
    assert!(
        matches!(code, Some(1) | Some(2)),
        "`{what}` should fail with exit code 1 or 2, got {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "`{what}` panicked:\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("cbdc: "),
        "`{what}` should print one `cbdc: ...` line on stderr, got:\n{stderr}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "`{what}`: the message should mention {needle:?}, got:\n{}",
            lines[0]
        );
    }
    assert!(
        stdout.is_empty(),
        "`{what}` failed but printed on stdout:\n{stdout}"
    );
    lines[0].to_string()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `cbdc devnet --once` on `dir` with an ephemeral port; returns stdout.
#[track_caller]
fn devnet_once(dir: &Path, issue: u64) -> String {
    let issue = issue.to_string();
    expect_ok(&[
        "devnet",
        "--once",
        "--data-dir",
        path_str(dir),
        "--listen",
        "127.0.0.1:0",
        "--issue",
        &issue,
    ])
}

/// The value after a `label` at the start of a line of devnet's summary.
#[track_caller]
fn summary_line<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in devnet's output:\n{stdout}"))
        .trim()
}

/// The audit report devnet prints, as JSON.
#[track_caller]
fn devnet_audit(stdout: &str) -> Value {
    serde_json::from_str(summary_line(stdout, "audit   "))
        .unwrap_or_else(|e| panic!("devnet's audit line is not JSON ({e}):\n{stdout}"))
}

fn audit_ok_line(
    blocks: u64,
    transactions: u64,
    unspent: u64,
    issued: u64,
    redeemed: u64,
) -> String {
    format!(
        "audit OK: {blocks} blocks, {transactions} transactions, {unspent} unspent notes; \
         issued {issued}, redeemed {redeemed}, outstanding {}\n",
        issued - redeemed
    )
}

/// Copies a devnet directory (keys, the SQLite file with its WAL) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for entry in std::fs::read_dir(from).expect("reading the devnet directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

/// Two devnet runs (4 blocks: issue, payment, issue, payment) of `issue` each.
fn two_run_devnet(dir: &Path, issue: u64) {
    devnet_once(dir, issue);
    devnet_once(dir, issue);
}

#[test]
fn devnet_restart_reuses_keys_and_database_and_the_audit_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");

    let first = devnet_once(&dir, 5_000);
    assert!(first.contains("admitted bank demo-bank"), "{first}");
    assert!(
        first.contains("issued 5000 minor units to demo-bank"),
        "{first}"
    );
    assert!(
        first.contains("paid the demo customer 500 minor units")
            && first.contains("the customer opened the memo: 500"),
        "{first}"
    );
    assert_eq!(
        summary_line(&first, "supply"),
        "issued 5000, redeemed 0, outstanding 5000"
    );
    assert_eq!(
        devnet_audit(&first),
        json!({"blocks": 2, "transactions": 2, "unspent_notes": 2,
               "issued": 5000, "redeemed": 0, "outstanding": 5000})
    );
    let ledger_key = summary_line(&first, "ledger key").to_string();
    let key_files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    assert_eq!(key_files.len(), 6, "3 officers, bank, customer, ledger");

    // A restart: same keys, same database, a second issue on top of the first.
    let second = devnet_once(&dir, 5_000);
    assert!(
        second.contains("bank demo-bank already admitted"),
        "{second}"
    );
    assert_eq!(summary_line(&second, "ledger key"), ledger_key);
    assert_eq!(
        summary_line(&second, "supply"),
        "issued 10000, redeemed 0, outstanding 10000"
    );
    assert_eq!(
        devnet_audit(&second),
        json!({"blocks": 4, "transactions": 4, "unspent_notes": 4,
               "issued": 10000, "redeemed": 0, "outstanding": 10000})
    );
    for (path, bytes) in &key_files {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} changed on restart",
            path.display()
        );
    }

    // The offline audit, with the key as a file and as the printed hex.
    let database = dir.join("ledger.sqlite");
    let key_file = dir.join("keys/ledger.json");
    let expected = audit_ok_line(4, 4, 4, 10_000, 0);
    for key in [path_str(&key_file), ledger_key.as_str()] {
        let stdout = expect_ok(&[
            "audit",
            "--database-url",
            path_str(&database),
            "--ledger-key",
            key,
        ]);
        assert_eq!(stdout, expected);
    }
}

/// Applies `edit` to a copy of the export and expects its audit to fail naming
/// the problem.
#[track_caller]
fn expect_tampered_export(
    tmp: &Path,
    export: &Value,
    name: &str,
    edit: impl FnOnce(&mut Value),
    needles: &[&str],
) {
    let mut tampered = export.clone();
    edit(&mut tampered);
    assert_ne!(&tampered, export, "{name}: the edit changed nothing");
    let file = tmp.join(format!("tampered-{name}.json"));
    std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let out = cbdc(&["audit", "--export", path_str(&file)]);
    check_error(&format!("audit of the export with {name}"), &out, needles);
}

fn blocks_mut(export: &mut Value) -> &mut Vec<Value> {
    export["blocks"].as_array_mut().expect("blocks")
}

fn hex_field_mut<'a>(export: &'a mut Value, block: usize, field: &str) -> &'a mut Value {
    &mut export["blocks"][block][field]
}

/// Replaces the hex digit at `index` (negative: from the end) with another.
fn flip_hex(value: &mut Value, index: isize) {
    let mut chars: Vec<char> = value.as_str().expect("a hex string").chars().collect();
    let i = if index < 0 {
        chars.len() - index.unsigned_abs()
    } else {
        index.unsigned_abs()
    };
    chars[i] = if chars[i] == '0' { '1' } else { '0' };
    *value = Value::String(chars.into_iter().collect());
}

#[test]
fn export_audits_like_the_database_and_every_tampering_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    two_run_devnet(&dir, 5_000);
    let database = dir.join("ledger.sqlite");
    let key_file = dir.join("keys/ledger.json");
    let export_file = tmp.path().join("export.json");

    let stdout = expect_ok(&[
        "export",
        "--database-url",
        path_str(&database),
        "--ledger-key",
        path_str(&key_file),
        "--out",
        path_str(&export_file),
    ]);
    assert!(stdout.starts_with("exported 4 blocks to "), "{stdout}");
    let expected = audit_ok_line(4, 4, 4, 10_000, 0);
    assert_eq!(
        expect_ok(&["audit", "--export", path_str(&export_file)]),
        expected
    );
    assert_eq!(
        expect_ok(&[
            "audit",
            "--export",
            path_str(&export_file),
            "--ledger-key",
            path_str(&key_file),
        ]),
        expected
    );

    let export: Value = serde_json::from_slice(&std::fs::read(&export_file).unwrap()).unwrap();
    assert_eq!(blocks_mut(&mut export.clone()).len(), 4);
    let officer_key: Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys/officer-1.json")).unwrap()).unwrap();
    let officer_public = officer_key["public"].as_str().unwrap().to_string();
    let tmp = tmp.path();

    // A transaction's encoding: its id changes, so the block's Merkle root no longer matches.
    expect_tampered_export(
        tmp,
        &export,
        "a flipped hex digit in a transaction",
        |e| flip_hex(&mut e["blocks"][1]["transactions"][0], -1),
        &["block 1", "Merkle root"],
    );
    // Its version byte: the transaction no longer decodes.
    expect_tampered_export(
        tmp,
        &export,
        "a flipped version of a transaction",
        |e| flip_hex(&mut e["blocks"][1]["transactions"][0], 1),
        &["block 1"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "two blocks swapped",
        |e| blocks_mut(e).swap(1, 2),
        &["block 1", "height"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a block dropped",
        |e| {
            blocks_mut(e).remove(1);
        },
        &["block 1", "height"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a block replayed at the end",
        |e| {
            let again = e["blocks"][1].clone();
            blocks_mut(e).push(again);
        },
        &["block 4", "height"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a transaction dropped",
        |e| {
            e["blocks"][1]["transactions"]
                .as_array_mut()
                .unwrap()
                .clear();
        },
        &["block 1", "Merkle root"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a transaction added",
        |e| {
            let extra = e["blocks"][3]["transactions"][0].clone();
            e["blocks"][1]["transactions"]
                .as_array_mut()
                .unwrap()
                .push(extra);
        },
        &["block 1", "Merkle root"],
    );
    // The time is the header's last 8 bytes (little-endian): its top byte.
    expect_tampered_export(
        tmp,
        &export,
        "a header's time changed",
        |e| flip_hex(hex_field_mut(e, 2, "header"), -2),
        &["block 2", "signature does not verify"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "another block's signature",
        |e| e["blocks"][1]["signature"] = e["blocks"][2]["signature"].clone(),
        &["block 1", "signature does not verify"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a short header",
        |e| {
            let header = e["blocks"][2]["header"].as_str().unwrap();
            let short = header[..header.len() - 2].to_string();
            e["blocks"][2]["header"] = Value::String(short);
        },
        &["block 2", "85 bytes"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "a header that is not hex",
        |e| {
            let header = e["blocks"][2]["header"].as_str().unwrap();
            let bad = format!("zz{}", &header[2..]);
            e["blocks"][2]["header"] = Value::String(bad);
        },
        &["block 2", "hex"],
    );
    // Whoever edits an export cannot re-sign it under the ledger's key, and naming
    // another key in the file leaves the ledger's signatures unverifiable.
    expect_tampered_export(
        tmp,
        &export,
        "another ledger key named in the file",
        |e| e["ledger_key"] = Value::String(officer_public.clone()),
        &["block 0", "signature does not verify"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "the identity as ledger key",
        |e| e["ledger_key"] = Value::String("00".repeat(32)),
        &["ledger key"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "no blocks field",
        |e| {
            e.as_object_mut().unwrap().remove("blocks");
        },
        &["not valid JSON of an export"],
    );

    // The right export checked against the wrong published key.
    let other_key = dir.join("keys/officer-1.json");
    expect_error(
        &[
            "audit",
            "--export",
            path_str(&export_file),
            "--ledger-key",
            path_str(&other_key),
        ],
        &["signed by ledger key", "not the one given"],
    );
    // A truncated file.
    let truncated = tmp.join("truncated.json");
    let bytes = std::fs::read(&export_file).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(
        &["audit", "--export", path_str(&truncated)],
        &["not valid JSON"],
    );

    // Without a signed tip, an export cut after a block is a valid shorter history:
    // the audit passes but says how far it got, for comparison with the ledger's
    // published latest block, and warns that it cannot show more (see
    // `an_export_with_a_signed_tip_fails_when_cut_short` for the tip).
    let mut cut = export.clone();
    blocks_mut(&mut cut).pop();
    let cut_file = tmp.join("cut.json");
    std::fs::write(&cut_file, serde_json::to_vec(&cut).unwrap()).unwrap();
    assert_eq!(
        expect_ok(&["audit", "--export", path_str(&cut_file)]),
        audit_ok_line(3, 3, 3, 10_000, 0)
    );
}

/// An export written with the ledger's block key carries a signed tip (block
/// count, last hash, time): cut short, or with its tip edited, it fails its
/// audit; without the tip it passes with a warning that it cannot show it is
/// complete.
#[test]
fn an_export_with_a_signed_tip_fails_when_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    two_run_devnet(&dir, 5_000);
    let database = dir.join("ledger.sqlite");
    let export_file = tmp.path().join("export.json");
    let block_key = dir.join("keys/ledger.json");
    expect_ok(&[
        "export",
        "--database-url",
        path_str(&database),
        "--block-key",
        path_str(&block_key),
        "--out",
        path_str(&export_file),
    ]);
    let out = cbdc(&["audit", "--export", path_str(&export_file)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), audit_ok_line(4, 4, 4, 10_000, 0));
    assert!(
        text(&out.stderr).contains("signed tip: the chain had 4 blocks"),
        "{}",
        text(&out.stderr)
    );
    let export: Value = serde_json::from_slice(&std::fs::read(&export_file).unwrap()).unwrap();
    assert_eq!(export["tip"]["blocks"], 4);
    let tmp = tmp.path();

    expect_tampered_export(
        tmp,
        &export,
        "the last block cut off",
        |e| {
            blocks_mut(e).pop();
        },
        &["signed tip says the chain had 4 blocks", "export holds 3"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "the tip rewritten to match the cut",
        |e| {
            blocks_mut(e).pop();
            e["tip"]["blocks"] = 3.into();
        },
        &["tip's signature does not verify"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "the tip's time changed",
        |e| {
            let time = e["tip"]["time_ms"].as_u64().unwrap();
            e["tip"]["time_ms"] = (time + 1).into();
        },
        &["tip's signature does not verify"],
    );
    expect_tampered_export(
        tmp,
        &export,
        "the tip's signature garbled",
        |e| e["tip"]["signature"] = "00".into(),
        &["tip: malformed signature"],
    );

    // Without the tip: a valid history, and a warning that it may be cut short.
    let mut untipped = export.clone();
    untipped.as_object_mut().unwrap().remove("tip");
    let file = tmp.join("untipped.json");
    std::fs::write(&file, serde_json::to_vec(&untipped).unwrap()).unwrap();
    let out = cbdc(&["audit", "--export", path_str(&file)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: the export has no signed tip"),
        "{}",
        text(&out.stderr)
    );

    // Only the key that signed the ledger's blocks signs a tip.
    let officer = dir.join("keys/officer-1.json");
    let never = tmp.join("never.json");
    let refused = cbdc(&[
        "export",
        "--database-url",
        path_str(&database),
        "--block-key",
        path_str(&officer),
        "--out",
        path_str(&never),
    ]);
    check_error(
        "export with an officer's key as the block key",
        &refused,
        &["did not sign this ledger's blocks"],
    );
    assert!(!never.exists());
}

/// Runs `sql` on a fresh copy of the devnet in `base` and returns the audit's output.
fn audit_after_sql(base: &Path, scratch: &Path, name: &str, sql: &str) -> Output {
    let dir = scratch.join(name.replace(' ', "-"));
    copy_dir(base, &dir);
    let database = dir.join("ledger.sqlite");
    let mut conn = SqliteConnection::establish(path_str(&database)).expect("opening the copy");
    // Foreign keys off (diesel turns them on), as for someone editing the file by hand.
    conn.batch_execute(&format!("PRAGMA foreign_keys = OFF; {sql}"))
        .unwrap_or_else(|e| panic!("{name}: the tampering SQL failed: {e}"));
    drop(conn);
    cbdc(&[
        "audit",
        "--database-url",
        path_str(&database),
        "--ledger-key",
        path_str(&dir.join("keys/ledger.json")),
    ])
}

const UNSPENT_NOTE: &str = "(SELECT id FROM notes WHERE spent_by IS NULL ORDER BY id LIMIT 1)";

#[test]
fn audit_of_a_tampered_database_fails_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("devnet");
    two_run_devnet(&base, 7_000);
    let scratch = tmp.path();

    // The copy itself must audit clean, or every case below would pass for nothing.
    let control = audit_after_sql(&base, scratch, "control", "SELECT 1;");
    assert!(
        control.status.success(),
        "the untampered copy fails its audit: {}",
        text(&control.stderr)
    );
    assert_eq!(text(&control.stdout), audit_ok_line(4, 4, 4, 14_000, 0));

    let tables = "the live tables disagree with the journal";
    let cases: &[(&str, String, &[&str])] = &[
        (
            "a note given another note's commitment",
            format!(
                "UPDATE notes SET commitment = (SELECT commitment FROM notes WHERE id <> {UNSPENT_NOTE} \
                 AND spent_by IS NULL LIMIT 1) WHERE id = {UNSPENT_NOTE};"
            ),
            &[tables],
        ),
        (
            "a kernel deleted",
            "DELETE FROM kernels WHERE tx_id = (SELECT tx_id FROM kernels ORDER BY tx_id LIMIT 1);"
                .into(),
            &[tables],
        ),
        (
            "a spent note made unspent",
            "UPDATE notes SET spent_by = NULL, spent_seq = NULL \
             WHERE id = (SELECT id FROM notes WHERE spent_by IS NOT NULL LIMIT 1);"
                .into(),
            &[tables],
        ),
        (
            "a counterfeit copy of a note",
            format!(
                "INSERT INTO notes (id, owner, commitment, memo, created_by, output_index, created_seq) \
                 SELECT randomblob(32), owner, commitment, memo, created_by, output_index + 100, created_seq \
                 FROM notes WHERE id = {UNSPENT_NOTE};"
            ),
            &[tables],
        ),
        (
            "an issuance inflated",
            "UPDATE issuances SET amount = amount + 1 \
             WHERE tx_id = (SELECT tx_id FROM issuances LIMIT 1);"
                .into(),
            &[tables],
        ),
        (
            "an issuance deleted",
            "DELETE FROM issuances WHERE tx_id = (SELECT tx_id FROM issuances LIMIT 1);".into(),
            &[tables],
        ),
        (
            "a redemption invented",
            "INSERT INTO redemptions (tx_id, amount) \
             SELECT id, 5 FROM transactions WHERE kind = 'transfer' LIMIT 1;"
                .into(),
            &[tables],
        ),
        (
            "the last block deleted",
            "DELETE FROM blocks WHERE height = 3;".into(),
            &[tables, "differs from the journal"],
        ),
        (
            "a block header rewritten",
            "UPDATE blocks SET header = substr(header, 1, 84) || X'7f' WHERE height = 2;".into(),
            &["block 2", "signature does not verify"],
        ),
        (
            "a transaction's encoding rewritten",
            // The last byte is the top byte of a scalar, often zero already: flip it.
            "UPDATE transactions SET encoded = substr(encoded, 1, length(encoded) - 1) || \
             CASE WHEN substr(encoded, -1) = X'00' THEN X'01' ELSE X'00' END \
             WHERE block_height = 1;"
                .into(),
            &["block 1"],
        ),
        (
            "a transaction deleted",
            "DELETE FROM transactions WHERE block_height = 3;".into(),
            &["block 3", "Merkle root"],
        ),
        (
            "a block's hash column rewritten",
            "UPDATE blocks SET hash = randomblob(32) WHERE height = 1;".into(),
            &["block 1", "hash", "disagree with the signed header"],
        ),
        (
            "a block's time and count columns changed",
            "UPDATE blocks SET time_unix_ms = time_unix_ms + 1, tx_count = tx_count + 1 \
             WHERE height = 2;"
                .into(),
            &["block 2", "time_unix_ms, tx_count"],
        ),
        (
            "a block's Merkle root column rewritten",
            "UPDATE blocks SET merkle_root = randomblob(32) WHERE height = 3;".into(),
            &["block 3", "merkle_root"],
        ),
    ];
    for (name, sql, needles) in cases {
        let out = audit_after_sql(&base, scratch, name, sql);
        check_error(&format!("audit after {name}"), &out, needles);
    }
}

/// The database audit compares the live unspent notes (id, owner, commitment) with
/// the journal's, not only their sums: a note handed to another owner, or two
/// notes' commitments exchanged (the sum unchanged), fail it.
#[test]
fn audit_of_a_database_catches_notes_that_changed_hands() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("devnet");
    two_run_devnet(&base, 7_000);
    let cases = [
        (
            "an unspent note given to an officer",
            format!(
                "UPDATE notes SET owner = (SELECT spend_public_key FROM participants \
                 WHERE id = 'officer-1') WHERE id = {UNSPENT_NOTE};"
            ),
        ),
        (
            "two unspent notes' commitments exchanged",
            "CREATE TEMP TABLE pair AS SELECT id, commitment FROM notes \
             WHERE spent_by IS NULL ORDER BY id LIMIT 2; \
             UPDATE notes SET commitment = (SELECT commitment FROM pair WHERE pair.id <> notes.id) \
             WHERE id IN (SELECT id FROM pair);"
                .into(),
        ),
    ];
    for (name, sql) in cases {
        let out = audit_after_sql(&base, tmp.path(), name, &sql);
        check_error(&format!("audit after {name}"), &out, &["note"]);
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_input_fails_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    devnet_once(&dir, 1_000);
    let database = dir.join("ledger.sqlite");
    let db = path_str(&database);
    let key_file = dir.join("keys/ledger.json");
    let key = path_str(&key_file);
    let officer_file = dir.join("keys/officer-1.json");
    let officer = path_str(&officer_file);
    let garbage_file = tmp.path().join("garbage.txt");
    std::fs::write(
        &garbage_file,
        "this is not a key nor a database, it is text\n",
    )
    .unwrap();
    let garbage = path_str(&garbage_file);
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let missing_db = tmp.path().join("typo.sqlite");
    let missing_dir_db = tmp.path().join("no/such/dir/ledger.sqlite");

    // Key files are never overwritten.
    let before = std::fs::read(&key_file).unwrap();
    expect_error(&["keygen", "--out", key], &["must not exist", key]);
    expect_error(&["keygen", "--wallet", "--out", key], &["must not exist"]);
    assert_eq!(std::fs::read(&key_file).unwrap(), before);

    // Audit and export inputs.
    expect_error(&["audit"], &["--database-url", "--export"]);
    expect_error(
        &["audit", "--database-url", db, "--ledger-key", "not-hex"],
        &["64 hex characters"],
    );
    expect_error(
        &[
            "audit",
            "--database-url",
            db,
            "--ledger-key",
            &"zz".repeat(32),
        ],
        &["64 hex characters"],
    );
    expect_error(
        &[
            "audit",
            "--database-url",
            db,
            "--ledger-key",
            &"00".repeat(32),
        ],
        &["invalid public key"],
    );
    expect_error(&["audit", "--database-url", db], &["--ledger-key"]);
    expect_error(
        &["audit", "--database-url", db, "--ledger-key", garbage],
        &[garbage, "not a JSON key file"],
    );
    expect_error(
        &["audit", "--database-url", db, "--ledger-key", officer],
        &["block 0", "signature does not verify"],
    );
    // A mistyped database path must not create an empty ledger that audits clean.
    expect_error(
        &[
            "audit",
            "--database-url",
            path_str(&missing_db),
            "--ledger-key",
            key,
        ],
        &["does not exist"],
    );
    assert!(!missing_db.exists(), "the audit created {missing_db:?}");
    // A file that is not a database fails at once, not after the pool's timeout.
    expect_error(
        &["audit", "--database-url", garbage, "--ledger-key", key],
        &["not a SQLite database"],
    );
    expect_error(
        &["audit", "--export", path_str(&tmp.path().join("none.json"))],
        &["none.json"],
    );
    expect_error(
        &[
            "export",
            "--database-url",
            path_str(&missing_db),
            "--ledger-key",
            key,
            "--out",
            path_str(&tmp.path().join("e.json")),
        ],
        &["does not exist"],
    );
    let unwritable = tmp.path().join("no/such/dir/export.json");
    expect_error(
        &[
            "export",
            "--database-url",
            db,
            "--ledger-key",
            key,
            "--out",
            path_str(&unwritable),
        ],
        &["writing", "export.json"],
    );

    // Client commands.
    expect_error(
        &[
            "issue", "--ledger", &nowhere, "propose", "--bank", "b", "--amount", "1",
        ],
        &["--key"],
    );
    expect_error(
        &[
            "issue", "--ledger", &nowhere, "--key", officer, "propose", "--bank", "b", "--amount",
            "1",
        ],
        &["cannot reach the ledger", &nowhere],
    );
    expect_error(
        &[
            "bank", "--ledger", &nowhere, "--key", officer, "suspend", "--id", "b",
        ],
        &["cannot reach the ledger"],
    );
    expect_error(
        &[
            "bank",
            "--ledger",
            "127.0.0.1:7400",
            "--key",
            officer,
            "suspend",
            "--id",
            "b",
        ],
        &["--ledger", "URL"],
    );
    expect_error(
        &[
            "issue",
            "--ledger",
            &nowhere,
            "--key",
            garbage,
            "show",
            "--proposal",
            "00",
        ],
        &[garbage, "not a JSON key file"],
    );
    expect_error(
        &[
            "bank",
            "--ledger",
            &nowhere,
            "--key",
            officer,
            "admit",
            "--id",
            "b",
            "--name",
            "B",
            "--spend-key",
            "zz",
            "--view-key",
            "zz",
        ],
        &["64 hex characters"],
    );
    // clap refuses an amount that is not a number (exit code 2, with usage).
    let out = cbdc(&[
        "issue", "--ledger", &nowhere, "--key", officer, "propose", "--bank", "b", "--amount", "-5",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Servers.
    let fresh = tmp.path().join("fresh");
    expect_error(
        &[
            "devnet",
            "--once",
            "--issue",
            "0",
            "--data-dir",
            path_str(&fresh),
            "--listen",
            "127.0.0.1:0",
        ],
        &["--issue", "positive"],
    );
    expect_error(&["ledger", "serve"], &["no database", "--database-url"]);
    let block_key = tmp.path().join("block.json");
    let serve_db = tmp.path().join("serve.sqlite");
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "ledger",
            "serve",
            "--database-url",
            path_str(&serve_db),
            "--block-key",
            path_str(&block_key),
        ];
        if !extra.contains(&"--listen") {
            args.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    let serve_error = |extra: &[&str], needles: &[&str]| {
        let args = serve(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_error(&args, needles)
    };
    serve_error(&["--threshold", "0"], &["threshold", "at least 1"]);
    serve_error(
        &["--officer", "officer-1"],
        &["--officer", "id=<hex public key>"],
    );
    serve_error(&["--officer", "officer-1=zz"], &["64 hex characters"]);
    expect_error(
        &[
            "ledger",
            "serve",
            "--database-url",
            path_str(&missing_dir_db),
            "--block-key",
            path_str(&block_key),
            "--listen",
            "127.0.0.1:0",
        ],
        &["directory", "does not exist"],
    );
    expect_error(
        &[
            "ledger",
            "serve",
            "--database-url",
            garbage,
            "--block-key",
            path_str(&block_key),
            "--listen",
            "127.0.0.1:0",
        ],
        &["not a SQLite database"],
    );
    serve_error(&["--listen", "nonsense"], &["cannot listen on nonsense"]);
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nunknown_setting = 1\n").unwrap();
    serve_error(
        &["--config", path_str(&config)],
        &["config.toml", "not a valid configuration"],
    );
    expect_error(&["--log-format", "xml", "audit"], &["--log-format", "xml"]);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn secret_from_hex(value: &Value) -> SecretKey {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(value.as_str().expect("a hex secret"), &mut bytes).unwrap();
    SecretKey::from_bytes(&bytes).expect("a valid secret key")
}

fn public_hex(key: &PublicKey) -> String {
    hex::encode(key.as_bytes())
}

#[test]
fn keygen_writes_private_files_whose_keys_parse() {
    let tmp = tempfile::tempdir().unwrap();

    // A signing key, in a directory keygen creates.
    let signing = tmp.path().join("officers/officer.json");
    let stdout = expect_ok(&["keygen", "--out", path_str(&signing)]);
    #[cfg(unix)]
    assert_eq!(mode(&signing), 0o600, "a signing key file must be private");
    let file = read_json(&signing);
    assert_eq!(file["kind"], "signing");
    let secret = secret_from_hex(&file["secret"]);
    let public = public_hex(&secret.public_key());
    assert_eq!(file["public"], public.as_str());
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(&public, &mut bytes).unwrap();
    PublicKey::from_bytes(&bytes).expect("the public key parses");
    assert!(
        stdout.contains(&public),
        "keygen prints the public key: {stdout}"
    );
    assert!(
        !stdout.contains(file["secret"].as_str().unwrap()),
        "keygen must never print the secret"
    );

    // A wallet: spend and view keys, and the address built from them.
    let wallet = tmp.path().join("bank.json");
    let stdout = expect_ok(&["keygen", "--wallet", "--out", path_str(&wallet)]);
    #[cfg(unix)]
    assert_eq!(mode(&wallet), 0o600, "a wallet key file must be private");
    let file = read_json(&wallet);
    assert_eq!(file["kind"], "wallet");
    let keys = WalletKeys {
        spend: secret_from_hex(&file["spend"]),
        view: secret_from_hex(&file["view"]),
    };
    let address: Address = file["address"]
        .as_str()
        .unwrap()
        .parse()
        .expect("the address parses");
    assert_eq!(address, keys.address());
    assert_eq!(
        file["spend_public"],
        public_hex(&keys.spend.public_key()).as_str()
    );
    assert_eq!(
        file["view_public"],
        public_hex(&keys.view.public_key()).as_str()
    );
    assert!(stdout.contains(&address.to_string()), "{stdout}");

    // Two runs give two different keys.
    let other = tmp.path().join("other.json");
    expect_ok(&["keygen", "--out", path_str(&other)]);
    assert_ne!(read_json(&other)["secret"], read_json(&signing)["secret"]);

    // The files are what the other commands take: the public key of a signing key
    // file is accepted where a ledger key is expected (here: it is not the ledger's).
    let export = tmp.path().join("empty-export.json");
    std::fs::write(
        &export,
        json!({"ledger_key": public, "blocks": []}).to_string(),
    )
    .unwrap();
    assert_eq!(
        expect_ok(&[
            "audit",
            "--export",
            path_str(&export),
            "--ledger-key",
            path_str(&signing),
        ]),
        audit_ok_line(0, 0, 0, 0, 0)
    );
}

/// A `cbdc ledger serve` child, killed when dropped (also when a test fails).
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, officers: &[(String, String)], run: u32) -> Server {
        let port = free_port();
        let log = dir.join(format!("serve-{run}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let database = dir.join("ledger.sqlite");
        let block_key = dir.join("block-key.json");
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = [
            "ledger",
            "serve",
            "--database-url",
            path_str(&database),
            "--block-key",
            path_str(&block_key),
            "--threshold",
            "2",
            "--workers",
            "2",
            "--listen",
            &listen,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        for (id, key) in officers {
            args.push("--officer".into());
            args.push(format!("{id}={key}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = cbdc_command(&args)
            .env("RUST_LOG", "info")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("cbdc ledger serve starts");
        Server {
            child,
            base: format!("http://{listen}"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/healthz` answers, or fails with the server's log.
    async fn wait_ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("ledger serve exited early ({status}); log:\n{}", self.log());
            }
            if let Ok(response) = http.get(format!("{}/healthz", self.base)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ledger serve not healthy after 20 s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, as in a crash.
    fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(http: &reqwest::Client, url: String) -> (u16, String) {
    let response = http.get(&url).send().await.expect("the ledger answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn load_officer(path: &Path) -> SecretKey {
    secret_from_hex(&read_json(path)["secret"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_serve_issues_with_two_officers_and_survives_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut officer_keys = Vec::new();
    let mut officers = Vec::new();
    for i in 1..=3 {
        let file = dir.join(format!("officer-{i}.json"));
        expect_ok(&["keygen", "--out", path_str(&file)]);
        officer_keys.push(load_officer(&file));
        // Officer 3 is given as its key file, the others as hex.
        let key = if i == 3 {
            path_str(&file).to_string()
        } else {
            read_json(&file)["public"].as_str().unwrap().to_string()
        };
        officers.push((format!("officer-{i}"), key));
    }
    let officer_file = |i: usize| dir.join(format!("officer-{i}.json"));
    let bank = WalletKeys::generate(&mut rand::rngs::OsRng);
    let http = reqwest::Client::new();

    let mut server = Server::start(dir, &officers, 1);
    server.wait_ready(&http).await;
    let base = server.base.clone();

    // Probes, metrics, OpenAPI.
    let (status, body) = get(&http, format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&http, format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&http, format!("{base}/openapi.json")).await;
    assert_eq!(status, 200);
    let openapi: Value = serde_json::from_str(&body).expect("the OpenAPI document is JSON");
    let paths = openapi["paths"].as_object().expect("OpenAPI `paths`");
    assert!(
        paths.contains_key("/v1/issuances"),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );

    let officer1 = LedgerClient::new(&base, officer_keys[0].clone());
    let officer2 = LedgerClient::new(&base, officer_keys[1].clone());
    let bank_client = LedgerClient::new(&base, bank.spend.clone());
    let ledger_key = officer1.ledger_key().await.expect("the ledger key");
    assert_eq!(
        public_hex(&ledger_key),
        read_json(&dir.join("block-key.json"))["public"]
            .as_str()
            .unwrap()
    );

    // Admit the bank; admitting it again, or a bank acting as an officer, is refused.
    let admitted = officer1
        .admit(
            "bank-1",
            "Bank One",
            "bank",
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
        )
        .await
        .expect("admit the bank");
    assert_eq!(admitted["status"], "active");
    let again = officer2
        .admit(
            "bank-1",
            "Bank One",
            "bank",
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("participant_exists"), "{again}");
    let forbidden = bank_client
        .propose("bank-1", Amount::new(1))
        .await
        .unwrap_err();
    assert_eq!(forbidden.code(), Some("forbidden_role"), "{forbidden}");

    // Maker–checker through the CLI and the client: officer 1 proposes (CLI) and
    // approves (client); one approval does not execute; a second approval by the same
    // officer does not count; officer 2's approval (CLI) executes.
    let proposed = expect_ok(&[
        "issue",
        "--ledger",
        &base,
        "--key",
        path_str(&officer_file(1)),
        "propose",
        "--bank",
        "bank-1",
        "--amount",
        "250000",
    ]);
    let proposal: Value = serde_json::from_str(&proposed).expect("propose prints JSON");
    assert_eq!(proposal["state"], "open");
    assert_eq!(proposal["threshold"], 2);
    let proposal_id = proposal["id"].as_str().unwrap().to_string();

    let first = officer1.approve(&proposal_id).await.expect("approval 1");
    assert_eq!(first["state"], "open", "{first}");
    assert_eq!(first["approvals"], json!(["officer-1"]));
    let twice = officer1.approve(&proposal_id).await;
    assert!(
        matches!(&twice, Err(e) if e.code().is_some()),
        "a second approval by the same officer must be refused with a code: {twice:?}"
    );
    let shown = officer2.proposal(&proposal_id).await.unwrap();
    assert_eq!(shown["state"], "open", "{shown}");

    let approved = expect_ok(&[
        "issue",
        "--ledger",
        &base,
        "--key",
        path_str(&officer_file(2)),
        "approve",
        "--proposal",
        &proposal_id,
    ]);
    let executed: Value = serde_json::from_str(&approved).expect("approve prints JSON");
    assert_eq!(executed["state"], "executed", "{executed}");
    let receipt: Receipt = serde_json::from_value(executed["receipt"].clone()).expect("a receipt");
    receipt.verify(&ledger_key).expect("the receipt verifies");
    assert_eq!(receipt.block.height, 0);

    // Late approvals fail cleanly through the CLI (a 409, not a 500).
    let late = cbdc(&[
        "issue",
        "--ledger",
        &base,
        "--key",
        path_str(&officer_file(3)),
        "approve",
        "--proposal",
        &proposal_id,
    ]);
    check_error("a late approval", &late, &["proposal_not_open"]);

    let supply = bank_client.supply().await.unwrap();
    assert_eq!(
        (
            &supply["issued"],
            &supply["redeemed"],
            &supply["outstanding"]
        ),
        (&json!(250_000), &json!(0), &json!(250_000)),
        "{supply}"
    );
    let (status, metrics) = get(&http, format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("cbdc_ledger_http_requests_total"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("status=\"500\""),
        "a request failed with a 500:\n{metrics}"
    );

    // A crash, then a restart on the same file (and a new port).
    server.crash();
    let mut server = Server::start(dir, &officers, 2);
    server.wait_ready(&http).await;
    let base = server.base.clone();
    let officer3 = LedgerClient::new(&base, officer_keys[2].clone());
    assert_eq!(
        public_hex(&officer3.ledger_key().await.unwrap()),
        public_hex(&ledger_key),
        "the block key is reused"
    );
    let supply = officer3.supply().await.unwrap();
    assert_eq!(supply["issued"], 250_000, "{supply}");
    assert_eq!(supply["outstanding"], 250_000, "{supply}");
    let audit = officer3.audit().await.unwrap();
    assert_eq!(audit["ok"], true, "{audit}");
    let shown = officer3.proposal(&proposal_id).await.unwrap();
    assert_eq!(shown["state"], "executed");

    // The restarted ledger issues again, and the offline audit (beside the running
    // server) agrees.
    let officer2 = LedgerClient::new(&base, officer_keys[1].clone());
    let second = officer2
        .propose("bank-1", Amount::new(50_000))
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    officer2.approve(second_id).await.unwrap();
    let done = officer3.approve(second_id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    let audit = expect_ok(&[
        "audit",
        "--database-url",
        path_str(&dir.join("ledger.sqlite")),
        "--ledger-key",
        path_str(&dir.join("block-key.json")),
    ]);
    assert_eq!(audit, audit_ok_line(2, 2, 2, 300_000, 0));
    let log = server.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    drop(server);
}
