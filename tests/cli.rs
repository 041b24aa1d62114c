//! End-to-end tests of the `cbdc` binary, run as a user would: a child process
//! with arguments, an exit code, stdout and stderr.
//!
//! What they hold the binary to:
//! * `devnet --once` works on a fresh directory and again on the same one (a
//!   restart reuses the keys and the database and issues nothing more), and
//!   `audit` agrees with it, in batches and `--one-by-one`; a serving devnet or
//!   ledger stops on SIGTERM as on SIGINT, exit 0, its database checkpointed;
//! * an export audits to the same figures, and every tampering of an export or of
//!   the database fails the audit with one line on stderr that names the problem,
//!   even a block re-signed with the ledger's own key;
//! * a consistent rollback (every table rewound with the journal) passes a plain
//!   audit, but not one given a block seen earlier (`--expect`) or a receipt
//!   (`--receipts`); neither does a fork;
//! * bad input fails fast with one `cbdc: ...` line and a non-zero exit, never a
//!   panic, a backtrace or a long hang;
//! * key files are private (0600) and hold keys that parse; keys are never
//!   replaced: `ledger serve` refuses a missing, unreadable, wrong-kind or other
//!   block key naming the path, a devnet rerun a missing key file; a key file
//!   others can read gets a warning; `keygen` prints what `bank admit` needs;
//! * `cbdc request` signs and sends any request, and its `--print-headers` make
//!   a real curl's request pass; transport errors name the URL and the cause;
//! * `cbdc seed` asks for `--yes`; progress and logs carry no ANSI codes off a
//!   terminal;
//! * `ledger serve` founds its journal from the configured officers, runs
//!   maker–checker issuance over HTTP, admits an officer only with the
//!   threshold's approvals (`cbdc officer ... --cosign`), exposes its probes,
//!   metrics and OpenAPI document, and keeps the supply across a crash.
//!
//! The SQLite tests remove `DATABASE_URL` (and every other `CBDC_*` setting)
//! from the child's environment, so a developer's PostgreSQL is never touched.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use ledger_core::governance::Role;
use ledger_core::journal::merkle_root;
use ledger_core::{
    Address, Amount, BlockHeader, Payment, PublicKey, Receipt, SecretKey, TxId, WalletKeys,
};
use ledger_service::client::LedgerClient;
use serde_json::{json, Value};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
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
        "--no-gateways",
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
        "audit OK: {}, {}, {}; issued {issued}, redeemed {redeemed}, outstanding {}\n",
        counted(blocks, "block"),
        counted(transactions, "transaction"),
        counted(unspent, "unspent note"),
        issued - redeemed
    )
}

/// `1 block`, `0 blocks`, `2 blocks`: how the binary counts.
fn counted(count: u64, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
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

/// A devnet's first run (issuing 5 000), grown by a second issue of 5 000 and
/// payment through the officers' and the bank's commands (a devnet issues only
/// on its first run), then run again: built once per run of this binary and
/// shared by every test that only needs some ledger (each copies it before
/// touching it). 6 blocks of one transaction each, the genesis (0), the bank's
/// admission (1), then issue and payment (2, 3) and again (4, 5); 4 unspent
/// notes, 10 000 outstanding.
struct SharedDevnet {
    dir: PathBuf,
    /// The output of the first `devnet --once` and of the one after the growth.
    runs: [String; 2],
    /// The two payments to the demo customer (blocks 3 and 5).
    payments: [TxId; 2],
    /// Every key file and its bytes after the first run.
    first_keys: Vec<(PathBuf, Vec<u8>)>,
}

/// Where shared fixtures live: under cargo's scratch directory for integration
/// tests, one directory per run. Statics are never dropped, so a run cannot
/// remove its own; it removes those of runs that ended a while ago.
const FIXTURE_PREFIX: &str = "cli-shared-devnet-";
const FIXTURE_STALE_AFTER: Duration = Duration::from_secs(600);

fn shared_devnet() -> &'static SharedDevnet {
    static SHARED: std::sync::OnceLock<SharedDevnet> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
            let stale = entry
                .file_name()
                .to_string_lossy()
                .starts_with(FIXTURE_PREFIX)
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > FIXTURE_STALE_AFTER);
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(FIXTURE_PREFIX)
            .tempdir_in(scratch)
            .expect("a scratch directory for the shared devnet")
            .keep()
            .join("devnet");
        let first = devnet_once(&dir, 5_000);
        let first_keys = std::fs::read_dir(dir.join("keys"))
            .expect("devnet's key directory")
            .map(|entry| {
                let path = entry.expect("a key file").path();
                let bytes = std::fs::read(&path).expect("reading a key file");
                (path, bytes)
            })
            .collect();
        let grown = grow_devnet(&dir, 5_000);
        let second = devnet_once(&dir, 5_000);
        SharedDevnet {
            payments: [devnet_payment(&first), grown],
            dir,
            runs: [first, second],
            first_keys,
        }
    })
}

/// A `cbdc devnet` child serving on a free port, its stdout and stderr in files
/// next to its data directory; killed when dropped (also when a test fails).
struct Devnet {
    child: Child,
    base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Devnet {
    fn start(dir: &Path, run: &str) -> Devnet {
        Devnet::spawn(dir, run, false)
    }

    /// The whole devnet: the ledger, both gateways and the wallet API.
    fn start_all(dir: &Path, run: &str) -> Devnet {
        Devnet::spawn(dir, run, true)
    }

    fn spawn(dir: &Path, run: &str, gateways: bool) -> Devnet {
        let listen = format!("127.0.0.1:{}", free_port());
        let name = dir
            .file_name()
            .expect("a named data directory")
            .to_string_lossy();
        let stdout = dir.with_file_name(format!("{name}-{run}.stdout"));
        let stderr = dir.with_file_name(format!("{name}-{run}.stderr"));
        let mut args = vec!["devnet", "--data-dir", path_str(dir), "--listen", &listen];
        if !gateways {
            args.push("--no-gateways");
        }
        let child = cbdc_command(&args)
            .args(["--issue", "5000"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("cbdc devnet starts");
        Devnet {
            child,
            base: format!("http://{listen}"),
            stdout,
            stderr,
        }
    }

    /// Its stdout and stderr so far.
    fn output(&self) -> (String, String) {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        (read(&self.stdout), read(&self.stderr))
    }

    /// Waits until it serves: set up, audited, its summary printed and its
    /// signal handlers in place (it says so last).
    fn wait_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let (out, err) = self.output();
                panic!("the devnet exited early ({status}):\n{out}\n{err}");
            }
            if self.output().0.contains("serving until Ctrl-C or SIGTERM") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the devnet is not serving after 30 s:\n{}\n{}",
                self.output().0,
                self.output().1
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self, signal: &str) -> ExitStatus {
        signal_and_wait(&mut self.child, signal)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (`TERM`, `INT`) to `child` with kill(1) and waits for it to
/// exit, at most 20 s.
fn signal_and_wait(child: &mut Child, signal: &str) -> ExitStatus {
    let sent = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(sent.success(), "kill -s {signal} failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 20 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Bytes in a SQLite write-ahead log (0 when there is none).
fn wal_len(database: &Path) -> u64 {
    let wal = database.with_file_name(format!(
        "{}-wal",
        database.file_name().unwrap().to_string_lossy()
    ));
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// Grows the devnet in `dir` by an issue of `amount` to the demo bank and a
/// payment of a tenth of it to the demo customer, as its officers and its bank
/// would: `cbdc devnet` serving, officer 1 proposes and approves (`cbdc
/// issue`), officer 2 approves, and the bank submits the transfer it built with
/// `cbdc request`; then SIGTERM. Returns the payment.
fn grow_devnet(dir: &Path, amount: u64) -> TxId {
    let mut devnet = Devnet::start(dir, "grow");
    devnet.wait_serving();
    let base = devnet.base.clone();
    let key = |name: &str| dir.join("keys").join(name);
    let issue = |officer: &str, args: &[&str]| -> Value {
        let officer = key(officer);
        let mut all = vec!["issue", "--ledger", &base, "--key", path_str(&officer)];
        all.extend(args);
        serde_json::from_str(&expect_ok(&all)).expect("`cbdc issue` prints JSON")
    };
    let amount_arg = amount.to_string();
    let proposal = issue(
        "officer-1.json",
        &["propose", "--bank", "demo-bank", "--amount", &amount_arg],
    );
    let id = proposal["id"].as_str().expect("a proposal id").to_owned();
    issue("officer-1.json", &["approve", "--proposal", &id]);
    let executed = issue("officer-2.json", &["approve", "--proposal", &id]);
    assert_eq!(executed["state"], "executed", "{executed}");
    let issued: ledger_core::Issue =
        serde_json::from_value(executed["issue"].clone()).expect("the executed issue");

    let bank_file = read_json(&key("demo-bank.json"));
    let bank = WalletKeys {
        spend: secret_from_hex(&bank_file["spend"]),
        view: secret_from_hex(&bank_file["view"]),
    };
    let customer: Address = read_json(&key("demo-customer.json"))["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let built = ledger_core::build_transfer(
        std::slice::from_ref(&bank.spend),
        &issued.owned_notes(),
        &[Payment {
            to: customer,
            amount: Amount::new(amount / 10),
        }],
        &bank.address(),
        &mut rand::rngs::OsRng,
    )
    .expect("the bank builds its payment");
    let body = dir.with_file_name("payment.bin");
    std::fs::write(&body, built.tx.encode()).unwrap();
    let answer = expect_ok(&[
        "request",
        "POST",
        "/v1/transactions",
        "--body",
        path_str(&body),
        "--content-type",
        "application/octet-stream",
        "--key",
        path_str(&key("demo-bank.json")),
        "--ledger",
        &base,
    ]);
    let answer: Value = serde_json::from_str(&answer).expect("the submission's answer is JSON");
    let receipt: Receipt =
        serde_json::from_value(answer["receipt"].clone()).expect("a receipt for the payment");
    let status = devnet.stop("TERM");
    assert!(status.success(), "the devnet stopped with {status}");
    receipt.tx_id
}

/// A copy of the shared two-run devnet at `to`.
fn copy_of_shared_devnet(to: &Path) -> &'static SharedDevnet {
    let shared = shared_devnet();
    copy_dir(&shared.dir, to);
    shared
}

/// The payment a devnet run made (`... (tx ID); ...`).
#[track_caller]
fn devnet_payment(stdout: &str) -> TxId {
    stdout
        .split_once("(tx ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("no payment `(tx ID)` in devnet's output:\n{stdout}"))
}

/// `cbdc audit` of the database in a devnet directory, with its ledger key file
/// and `extra` arguments.
fn audit_devnet_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let database = dir.join("ledger.sqlite");
    let key = dir.join("keys/ledger.json");
    [
        "audit",
        "--database-url",
        path_str(&database),
        "--ledger-key",
        path_str(&key),
    ]
    .iter()
    .chain(extra)
    .map(|arg| arg.to_string())
    .collect()
}

/// Runs `cbdc` with each of `runs` at the same time and returns their outputs in
/// order: the commands are independent, and together they keep both cores busy
/// through each one's waits (process start, the disk).
fn cbdc_concurrently(runs: &[Vec<String>]) -> Vec<Output> {
    std::thread::scope(|scope| {
        let children: Vec<_> = runs
            .iter()
            .map(|args| {
                scope.spawn(move || cbdc(&args.iter().map(String::as_str).collect::<Vec<_>>()))
            })
            .collect();
        children
            .into_iter()
            .map(|child| {
                child
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    })
}

/// A command that must fail with one line naming the problem (see [`check_error`]).
struct Refusal {
    what: String,
    args: Vec<String>,
    needles: Vec<String>,
}

impl Refusal {
    fn new(what: impl Into<String>, args: Vec<String>, needles: &[&str]) -> Refusal {
        Refusal {
            what: what.into(),
            args,
            needles: needles.iter().map(|n| n.to_string()).collect(),
        }
    }
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

/// Runs the refusals' commands and `others` at the same time; returns the
/// outputs of `others`, then those of the refusals (for [`check_refusals`]).
fn run_beside(refusals: &[Refusal], others: &[Vec<String>]) -> (Vec<Output>, Vec<Output>) {
    let mut runs = others.to_vec();
    runs.extend(refusals.iter().map(|r| r.args.clone()));
    let mut outputs = cbdc_concurrently(&runs);
    let refused = outputs.split_off(others.len());
    (outputs, refused)
}

/// Asserts that `out` is a success with `expected` on stdout; returns stderr.
#[track_caller]
fn check_ok(what: &str, out: &Output, expected: &str) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "`{what}` failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_eq!(stdout, expected, "`{what}`");
    stderr
}

/// Checks every refusal against the output of its command, all of them before
/// failing, so that one run names every case that is missed or misnamed.
#[track_caller]
fn check_refusals(refusals: &[Refusal], outputs: &[Output]) {
    assert_eq!(refusals.len(), outputs.len());
    let missed: Vec<&str> = refusals
        .iter()
        .zip(outputs)
        .filter(|(refusal, out)| {
            let needles: Vec<&str> = refusal.needles.iter().map(String::as_str).collect();
            std::panic::catch_unwind(|| check_error(&refusal.what, out, &needles)).is_err()
        })
        .map(|(refusal, _)| refusal.what.as_str())
        .collect();
    assert!(missed.is_empty(), "missed or misnamed: {missed:?}");
}

/// The last block's height and hash in the details a passing audit prints on
/// stderr (`...; last block H HASH; ...`): what an auditor records, to hold the
/// ledger to it later with `--expect H:HASH`.
#[track_caller]
fn audited_tip(stderr: &str) -> (u64, String) {
    let words: Vec<&str> = stderr
        .split_once("last block ")
        .map(|(_, rest)| rest.split([' ', ';']).take(2).collect())
        .unwrap_or_default();
    match words.as_slice() {
        [height, hash] if hash.len() == 64 => (
            height.parse().expect("the last block's height is a number"),
            hash.to_string(),
        ),
        _ => panic!("no `last block H HASH` in the audit's details:\n{stderr}"),
    }
}

#[test]
fn devnet_restart_reuses_keys_and_database_and_the_audit_agrees() {
    // The shared devnet is this: a run on a fresh directory, a second issue and
    // payment, then a restart.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let shared = copy_of_shared_devnet(&dir);
    let [first, second] = &shared.runs;

    // Block 0 is the genesis, block 1 the bank's admission, then the issue and
    // the payment.
    assert!(first.contains("admitted bank demo-bank"), "{first}");
    assert!(
        first.contains("issued 5000 minor units to demo-bank") && first.contains(", block 2)"),
        "{first}"
    );
    assert!(
        first.contains("paid the demo customer 500 minor units")
            && first.contains("the customer opened the memo: 500"),
        "{first}"
    );
    assert_eq!(
        summary_line(first, "supply"),
        "issued 5000, redeemed 0, outstanding 5000"
    );
    assert_eq!(
        summary_line(first, "audited"),
        "at block 3, every transaction re-verified; supply ceiling 1000000000000000"
    );
    assert_eq!(
        devnet_audit(first),
        json!({"blocks": 4, "transactions": 4, "unspent_notes": 2,
               "issued": 5000, "redeemed": 0, "outstanding": 5000})
    );
    assert_eq!(
        summary_line(first, "balances"),
        "demo-bank 4500 in 1 note; demo customer 500 in 1 note"
    );
    // `--once` names no URL it does not serve, and says what serves.
    assert!(!first.contains("http://"), "{first}");
    assert!(
        summary_line(first, "ledger ").starts_with("not serving: --once exits"),
        "{first}"
    );
    assert_eq!(
        summary_line(first, "serve "),
        format!(
            "cbdc devnet --data-dir {} --listen 127.0.0.1:0",
            path_str(&shared.dir)
        )
    );
    let ledger_key = summary_line(first, "ledger key").to_string();
    assert_eq!(
        shared.first_keys.len(),
        6,
        "3 officers, bank, customer, ledger"
    );

    // A restart: same keys, same database. Neither the admission nor the issue
    // is repeated: the second issue and payment (blocks 4, 5) are the growth's.
    assert!(
        second.contains("bank demo-bank already admitted")
            && second.contains("demo-bank already holds money on this ledger: nothing issued"),
        "{second}"
    );
    assert!(
        !second.contains("issued 5000 minor units") && !second.contains("paid the demo"),
        "{second}"
    );
    assert_eq!(summary_line(second, "ledger key"), ledger_key);
    assert_eq!(
        summary_line(second, "supply"),
        "issued 10000, redeemed 0, outstanding 10000"
    );
    assert_eq!(
        summary_line(second, "audited"),
        "at block 5, every transaction re-verified; supply ceiling 1000000000000000"
    );
    assert_eq!(
        devnet_audit(second),
        json!({"blocks": 6, "transactions": 6, "unspent_notes": 4,
               "issued": 10000, "redeemed": 0, "outstanding": 10000})
    );
    assert_eq!(
        summary_line(second, "balances"),
        "demo-bank 9000 in 2 notes; demo customer 1000 in 2 notes"
    );
    for (path, bytes) in &shared.first_keys {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} changed on restart",
            path.display()
        );
    }

    // The offline audit, with the key as the printed hex and as a file, its
    // verification in batches and one by one: the same line every way. The
    // first is the command the devnet printed (with the public key, not the
    // secret key file), run as printed.
    let database = dir.join("ledger.sqlite");
    let key_file = dir.join("keys/ledger.json");
    let expected = audit_ok_line(6, 6, 4, 10_000, 0);
    let printed = summary_line(second, "audit again");
    let printed: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(
        printed,
        [
            "cbdc",
            "audit",
            "--database-url",
            &format!("{}/ledger.sqlite", path_str(&shared.dir)),
            "--ledger-key",
            &ledger_key
        ]
    );
    let modes = [
        (ledger_key.as_str(), None, "in batches"),
        (path_str(&key_file), None, "in batches"),
        (path_str(&key_file), Some("--one-by-one"), "one by one"),
    ];
    let runs: Vec<Vec<String>> = modes
        .iter()
        .map(|(key, flag, _)| {
            let args = ["audit", "--database-url", path_str(&database)];
            owned(&[&args[..], &["--ledger-key", key], flag.as_slice()].concat())
        })
        .collect();
    for ((args, (_, _, how)), out) in runs.iter().zip(modes).zip(cbdc_concurrently(&runs)) {
        let details = check_ok(&args.join(" "), &out, &expected);
        assert!(
            details.contains(&format!("every transaction re-verified ({how})")),
            "{details}"
        );
        assert_eq!(audited_tip(&details).0, 5, "{details}");
    }
}

/// Writes a copy of the export with `edit` applied: its audit must fail naming
/// the problem.
#[track_caller]
fn tampered_export(
    tmp: &Path,
    export: &Value,
    name: &str,
    edit: impl FnOnce(&mut Value),
    needles: &[&str],
) -> Refusal {
    let mut tampered = export.clone();
    edit(&mut tampered);
    assert_ne!(&tampered, export, "{name}: the edit changed nothing");
    let file = tmp.join(format!("tampered-{}.json", name.replace([' ', '\''], "-")));
    std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
    Refusal::new(
        format!("audit of the export with {name}"),
        vec!["audit".into(), "--export".into(), path_str(&file).into()],
        needles,
    )
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

/// Replaces block `height` (the export's last) with one of `transactions`,
/// chained and signed with the ledger's own key, as only whoever holds the
/// block key could: the journal then holds a valid signed block whose content
/// admission would have refused.
fn resign_last_block(export: &mut Value, height: usize, transactions: Vec<Value>, key: &SecretKey) {
    assert_eq!(blocks_mut(export).len(), height + 1, "only the last block");
    let header_of = |block: &Value| {
        let bytes = hex::decode(block["header"].as_str().expect("a hex header")).unwrap();
        BlockHeader::from_bytes(&bytes).expect("an export's header parses")
    };
    let previous = header_of(&export["blocks"][height - 1]);
    let replaced = header_of(&export["blocks"][height]);
    let ids: Vec<TxId> = transactions
        .iter()
        .map(|tx| TxId::of_bytes(&hex::decode(tx.as_str().expect("a hex transaction")).unwrap()))
        .collect();
    let header = BlockHeader {
        height: u64::try_from(height).unwrap(),
        prev_hash: previous.hash(),
        merkle_root: merkle_root(&ids),
        tx_count: u32::try_from(ids.len()).unwrap(),
        time_ms: replaced.time_ms,
    };
    let signature = header.sign(key, &mut rand::rngs::OsRng);
    export["blocks"][height] = json!({
        "header": hex::encode(header.to_bytes()),
        "signature": hex::encode(signature.to_bytes()),
        "transactions": transactions,
    });
}

#[test]
fn export_audits_like_the_database_and_every_tampering_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
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
    assert!(stdout.starts_with("exported 6 blocks to "), "{stdout}");
    let export: Value = serde_json::from_slice(&std::fs::read(&export_file).unwrap()).unwrap();
    assert_eq!(blocks_mut(&mut export.clone()).len(), 6);
    let officer_key: Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys/officer-1.json")).unwrap()).unwrap();
    let officer_public = officer_key["public"].as_str().unwrap().to_string();
    let tmp = tmp.path();
    let mut refusals = Vec::new();

    // Blocks: 0 genesis, 1 the bank's admission, 2 issue, 3 payment, 4 issue, 5 payment.
    // A transaction's encoding: its id changes, so the block's Merkle root no longer matches.
    refusals.push(tampered_export(
        tmp,
        &export,
        "a flipped hex digit in a transaction",
        |e| flip_hex(&mut e["blocks"][3]["transactions"][0], -1),
        &["block 3", "Merkle root"],
    ));
    // Its version byte: the transaction no longer decodes.
    refusals.push(tampered_export(
        tmp,
        &export,
        "a flipped version of a transaction",
        |e| flip_hex(&mut e["blocks"][3]["transactions"][0], 1),
        &["block 3", "encoding version"],
    ));
    // The genesis ends with its (empty) list of approvals: one more byte is
    // read than the encoding holds.
    refusals.push(tampered_export(
        tmp,
        &export,
        "a flipped hex digit in the genesis",
        |e| flip_hex(&mut e["blocks"][0]["transactions"][0], -1),
        &["block 0", "encoding ends early"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the genesis dropped",
        |e| {
            blocks_mut(e).remove(0);
        },
        &["block 0", "claims height 1"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the bank's admission dropped",
        |e| {
            e["blocks"][1]["transactions"]
                .as_array_mut()
                .unwrap()
                .clear();
        },
        &["block 1", "Merkle root"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "two blocks swapped",
        |e| blocks_mut(e).swap(3, 4),
        &["block 3", "height"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a block dropped",
        |e| {
            blocks_mut(e).remove(3);
        },
        &["block 3", "height"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a block replayed at the end",
        |e| {
            let again = e["blocks"][3].clone();
            blocks_mut(e).push(again);
        },
        &["block 6", "height"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a transaction dropped",
        |e| {
            e["blocks"][3]["transactions"]
                .as_array_mut()
                .unwrap()
                .clear();
        },
        &["block 3", "Merkle root"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a transaction added",
        |e| {
            let extra = e["blocks"][5]["transactions"][0].clone();
            e["blocks"][3]["transactions"]
                .as_array_mut()
                .unwrap()
                .push(extra);
        },
        &["block 3", "Merkle root"],
    ));
    // The time is the header's last 8 bytes (little-endian): its top byte.
    refusals.push(tampered_export(
        tmp,
        &export,
        "a header's time changed",
        |e| flip_hex(hex_field_mut(e, 4, "header"), -2),
        &["block 4", "signature does not verify"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "another block's signature",
        |e| e["blocks"][3]["signature"] = e["blocks"][4]["signature"].clone(),
        &["block 3", "signature does not verify"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a short header",
        |e| {
            let header = e["blocks"][4]["header"].as_str().unwrap();
            let short = header[..header.len() - 2].to_string();
            e["blocks"][4]["header"] = Value::String(short);
        },
        &["block 4", "85 bytes"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "a header that is not hex",
        |e| {
            let header = e["blocks"][4]["header"].as_str().unwrap();
            let bad = format!("zz{}", &header[2..]);
            e["blocks"][4]["header"] = Value::String(bad);
        },
        &["block 4", "hex"],
    ));
    // Whoever edits an export cannot re-sign it under the ledger's key, and naming
    // another key in the file leaves the ledger's signatures unverifiable.
    refusals.push(tampered_export(
        tmp,
        &export,
        "another ledger key named in the file",
        |e| e["ledger_key"] = Value::String(officer_public.clone()),
        &["block 0", "signature does not verify"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the identity as ledger key",
        |e| e["ledger_key"] = Value::String("00".repeat(32)),
        &["ledger key"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "no blocks field",
        |e| {
            e.as_object_mut().unwrap().remove("blocks");
        },
        &["not valid JSON of an export"],
    ));

    // Whoever holds the block key can sign anything, but the audit re-verifies
    // every transaction as admission did: a payment spent again, an issue
    // repeated, a transfer whose last signature scalar was changed.
    let block_key = load_signing_key(&key_file);
    let transaction = |height: usize| export["blocks"][height]["transactions"][0].clone();
    let mut broken_payment = transaction(5);
    flip_hex(&mut broken_payment, -1);
    let forged = [
        (
            "a double spend signed with the block key",
            transaction(3),
            "spent_input: input 0 is already spent",
            false,
        ),
        // (Which check refuses it first, the reused reference or the note that
        // exists already, is the ledger's to say.)
        (
            "an issue repeated in a block signed with the block key",
            transaction(4),
            "",
            false,
        ),
        (
            "a transfer's signature broken in a block signed with the block key",
            broken_payment,
            "bad_owner_signature: input 0 is not signed by its owner",
            true,
        ),
    ];
    // The signature through both verifiers, batch and one by one (the other
    // two are refused before any proof or signature is checked).
    for (name, forged_transaction, rejection, one_by_one_too) in forged {
        let id = TxId::of_bytes(&hex::decode(forged_transaction.as_str().unwrap()).unwrap());
        let expected = format!(
            "block 5: transaction {id} (index 0) would be refused by admission: {rejection}"
        );
        let mut tampered = export.clone();
        resign_last_block(&mut tampered, 5, vec![forged_transaction], &block_key);
        let file = tmp.join(format!("{}.json", name.replace([' ', '\''], "-")));
        std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
        let modes = [&[][..], &["--one-by-one"][..]];
        for flags in &modes[..if one_by_one_too { 2 } else { 1 }] {
            let args = ["audit", "--export", path_str(&file)]
                .iter()
                .chain(flags.iter())
                .map(|arg| arg.to_string())
                .collect();
            refusals.push(Refusal::new(
                format!("audit {flags:?} of an export with {name}"),
                args,
                &[&expected],
            ));
        }
    }

    // The right export checked against the wrong published key.
    let other_key = dir.join("keys/officer-1.json");
    refusals.push(Refusal::new(
        "audit of the export with an officer's key as the ledger key",
        [
            "audit",
            "--export",
            path_str(&export_file),
            "--ledger-key",
            path_str(&other_key),
        ]
        .map(str::to_owned)
        .to_vec(),
        &["signed by ledger key", "not the one given"],
    ));
    // A truncated file.
    let truncated = tmp.join("truncated.json");
    let bytes = std::fs::read(&export_file).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    refusals.push(Refusal::new(
        "audit of a truncated export",
        ["audit", "--export", path_str(&truncated)]
            .map(str::to_owned)
            .to_vec(),
        &["not valid JSON"],
    ));

    // The export audits like the database, with the ledger key it names or the
    // one published. Without a signed tip, an export cut after a block is a
    // valid shorter history: the audit passes but says how far it got, for
    // comparison with the ledger's published latest block, and warns that it
    // cannot show more (see `an_export_with_a_signed_tip_fails_when_cut_short`).
    let mut cut = export.clone();
    blocks_mut(&mut cut).pop();
    let cut_file = tmp.join("cut.json");
    std::fs::write(&cut_file, serde_json::to_vec(&cut).unwrap()).unwrap();
    let (export_arg, key_arg) = (path_str(&export_file), path_str(&key_file));
    let passes = [
        (
            owned(&["audit", "--export", export_arg]),
            audit_ok_line(6, 6, 4, 10_000, 0),
        ),
        (
            owned(&["audit", "--export", export_arg, "--ledger-key", key_arg]),
            audit_ok_line(6, 6, 4, 10_000, 0),
        ),
        (
            owned(&["audit", "--export", path_str(&cut_file)]),
            audit_ok_line(5, 5, 3, 10_000, 0),
        ),
    ];
    let runs: Vec<Vec<String>> = passes.iter().map(|(args, _)| args.clone()).collect();
    let (outputs, refused) = run_beside(&refusals, &runs);
    for ((args, expected), out) in passes.iter().zip(&outputs) {
        check_ok(&args.join(" "), out, expected);
    }
    check_refusals(&refusals, &refused);
}

/// An export written with the ledger's block key carries a signed tip (block
/// count, last hash, time): cut short, or with its tip edited, it fails its
/// audit; without the tip it passes with a warning that it cannot show it is
/// complete.
#[test]
fn an_export_with_a_signed_tip_fails_when_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
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
    let export: Value = serde_json::from_slice(&std::fs::read(&export_file).unwrap()).unwrap();
    assert_eq!(export["tip"]["blocks"], 6);
    let tmp = tmp.path();

    let mut refusals = Vec::new();
    refusals.push(tampered_export(
        tmp,
        &export,
        "the last block cut off",
        |e| {
            blocks_mut(e).pop();
        },
        &["signed tip counts 6 block(s)", "export holds 5"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the tip rewritten to match the cut",
        |e| {
            blocks_mut(e).pop();
            e["tip"]["blocks"] = 5.into();
        },
        &["tip's signature does not verify"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the tip's time changed",
        |e| {
            let time = e["tip"]["time_ms"].as_u64().unwrap();
            e["tip"]["time_ms"] = (time + 1).into();
        },
        &["tip's signature does not verify"],
    ));
    refusals.push(tampered_export(
        tmp,
        &export,
        "the tip's signature garbled",
        |e| e["tip"]["signature"] = "00".into(),
        &["tip: malformed signature"],
    ));

    // Only the key that signed the ledger's blocks signs a tip.
    let officer = dir.join("keys/officer-1.json");
    let never = tmp.join("never.json");
    refusals.push(Refusal::new(
        "export with an officer's key as the block key",
        owned(&[
            "export",
            "--database-url",
            path_str(&database),
            "--block-key",
            path_str(&officer),
            "--out",
            path_str(&never),
        ]),
        &["did not sign this ledger's blocks"],
    ));

    // With the tip the audit says the export is complete; without it, it is a
    // valid history, with a warning that it may be cut short.
    let mut untipped = export.clone();
    untipped.as_object_mut().unwrap().remove("tip");
    let untipped_file = tmp.join("untipped.json");
    std::fs::write(&untipped_file, serde_json::to_vec(&untipped).unwrap()).unwrap();
    let passes = [
        (export_file.as_path(), "signed tip: the chain had 6 blocks"),
        (&untipped_file, "warning: the export has no signed tip"),
    ];
    let runs: Vec<Vec<String>> = passes
        .iter()
        .map(|(file, _)| owned(&["audit", "--export", path_str(file)]))
        .collect();
    let (outputs, refused) = run_beside(&refusals, &runs);
    for ((file, note), out) in passes.iter().zip(&outputs) {
        let what = format!("audit of {}", file.display());
        let stderr = check_ok(&what, out, &audit_ok_line(6, 6, 4, 10_000, 0));
        assert!(stderr.contains(note), "{what}: {stderr}");
    }
    check_refusals(&refusals, &refused);
    assert!(!never.exists());
}

/// A fresh copy of the devnet in `base`, in `scratch`, with `sql` run on its
/// database as someone editing the file by hand would.
fn copy_with_sql(base: &Path, scratch: &Path, name: &str, sql: &str) -> PathBuf {
    let dir = scratch.join(name.replace([' ', '\''], "-"));
    copy_dir(base, &dir);
    let database = dir.join("ledger.sqlite");
    let mut conn = SqliteConnection::establish(path_str(&database)).expect("opening the copy");
    // Foreign keys off (diesel turns them on), as for someone editing the file by hand.
    conn.batch_execute(&format!("PRAGMA foreign_keys = OFF; {sql}"))
        .unwrap_or_else(|e| panic!("{name}: the tampering SQL failed: {e}"));
    dir
}

const UNSPENT_NOTE: &str = "(SELECT id FROM notes WHERE spent_by IS NULL ORDER BY id LIMIT 1)";

/// Every edit of the tables is named by table and column (or the block whose
/// columns or journal it touched). The live unspent notes are compared with the
/// journal's column by column, not only their sums: a note handed to another
/// owner, or two notes' commitments exchanged (the sum unchanged), fail it; so
/// do participants and the chain head's threshold, which now derive from the
/// journal's governance entries.
#[test]
fn audit_of_a_tampered_database_fails_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let base = &shared_devnet().dir;
    let scratch = tmp.path();

    // Blocks: 0 genesis, 1 the bank's admission, 2 issue, 3 payment, 4 issue, 5 payment.
    let tables = "the live tables disagree with the journal";
    let cases: &[(&str, String, &[&str])] = &[
        (
            "a note given another note's commitment",
            format!(
                "UPDATE notes SET commitment = (SELECT commitment FROM notes WHERE id <> {UNSPENT_NOTE} \
                 AND spent_by IS NULL LIMIT 1) WHERE id = {UNSPENT_NOTE};"
            ),
            &[tables, "notes", "column commitment"],
        ),
        (
            "an unspent note given to an officer",
            format!(
                "UPDATE notes SET owner = (SELECT spend_public_key FROM participants \
                 WHERE id = 'officer-1') WHERE id = {UNSPENT_NOTE};"
            ),
            &[tables, "notes", "column owner"],
        ),
        (
            "two unspent notes' commitments exchanged",
            "CREATE TEMP TABLE pair AS SELECT id, commitment FROM notes \
             WHERE spent_by IS NULL ORDER BY id LIMIT 2; \
             UPDATE notes SET commitment = (SELECT commitment FROM pair WHERE pair.id <> notes.id) \
             WHERE id IN (SELECT id FROM pair);"
                .into(),
            &[tables, "notes", "column commitment"],
        ),
        (
            "a kernel deleted",
            "DELETE FROM kernels WHERE tx_id = (SELECT tx_id FROM kernels ORDER BY tx_id LIMIT 1);"
                .into(),
            &[tables, "kernels"],
        ),
        (
            "a spent note made unspent",
            "UPDATE notes SET spent_by = NULL, spent_seq = NULL \
             WHERE id = (SELECT id FROM notes WHERE spent_by IS NOT NULL LIMIT 1);"
                .into(),
            &[tables, "notes", "column spent_by"],
        ),
        (
            "a counterfeit copy of a note",
            format!(
                "INSERT INTO notes (id, owner, commitment, memo, created_by, output_index, created_seq) \
                 SELECT randomblob(32), owner, commitment, memo, created_by, output_index + 100, created_seq \
                 FROM notes WHERE id = {UNSPENT_NOTE};"
            ),
            &[tables, "notes", "the journal never created this note"],
        ),
        (
            "an event deleted",
            "DELETE FROM events WHERE seq = 3;".into(),
            &[tables, "events", "event 3 is missing"],
        ),
        (
            "an issuance inflated",
            "UPDATE issuances SET amount = amount + 1 \
             WHERE tx_id = (SELECT tx_id FROM issuances LIMIT 1);"
                .into(),
            &[tables, "issuances", "column amount"],
        ),
        (
            "an issuance deleted",
            "DELETE FROM issuances WHERE tx_id = (SELECT tx_id FROM issuances LIMIT 1);".into(),
            &[tables, "issuances: 1", "the journal holds 2 issues"],
        ),
        (
            "an executed proposal's amount changed",
            "UPDATE issuance_proposals SET amount = amount + 1 \
             WHERE id = (SELECT id FROM issuance_proposals WHERE state = 'executed' LIMIT 1);"
                .into(),
            &[tables, "issuance_proposals", "column amount"],
        ),
        (
            "a redemption invented",
            "INSERT INTO redemptions (tx_id, amount) \
             SELECT id, 5 FROM transactions WHERE kind = 'transfer' LIMIT 1;"
                .into(),
            &[tables, "redemptions"],
        ),
        (
            "an officer added without a governance entry",
            "INSERT INTO participants (id, name, role, status, spend_public_key, \
             view_public_key, created_at_unix_ms) \
             VALUES ('mallory', 'Mallory', 'officer', 'active', randomblob(32), NULL, 0);"
                .into(),
            &[tables, "participants mallory", "no governance entry admitted"],
        ),
        (
            "the bank suspended without a governance entry",
            "UPDATE participants SET status = 'suspended' WHERE id = 'demo-bank';".into(),
            &[tables, "participants demo-bank", "column status"],
        ),
        (
            "the threshold lowered in the chain head",
            "UPDATE chain_head SET threshold = 1;".into(),
            &[tables, "chain_head", "column threshold"],
        ),
        (
            "the last block deleted",
            "DELETE FROM blocks WHERE height = 5;".into(),
            &[tables, "chain_head", "column next_height"],
        ),
        (
            "the genesis block deleted",
            "DELETE FROM blocks WHERE height = 0;".into(),
            &["block 0", "missing", "next stored block has height 1"],
        ),
        (
            "the bank's admission deleted",
            "DELETE FROM transactions WHERE block_height = 1;".into(),
            &["block 1", "Merkle root"],
        ),
        (
            "the admission's kind column changed",
            "UPDATE transactions SET kind = 'issue' WHERE block_height = 1;".into(),
            &[tables, "column kind is issue", "a governance"],
        ),
        (
            "a block header rewritten",
            "UPDATE blocks SET header = substr(header, 1, 84) || X'7f' WHERE height = 4;".into(),
            &["block 4", "signature does not verify"],
        ),
        (
            "a transaction's encoding rewritten",
            // The last byte is the top byte of a scalar, often zero already: flip it.
            "UPDATE transactions SET encoded = substr(encoded, 1, length(encoded) - 1) || \
             CASE WHEN substr(encoded, -1) = X'00' THEN X'01' ELSE X'00' END \
             WHERE block_height = 3;"
                .into(),
            &["block 3"],
        ),
        (
            "a transaction deleted",
            "DELETE FROM transactions WHERE block_height = 5;".into(),
            &["block 5", "Merkle root"],
        ),
        (
            "a block's hash column rewritten",
            "UPDATE blocks SET hash = randomblob(32) WHERE height = 3;".into(),
            &["block 3", "hash", "disagree with the signed header"],
        ),
        (
            "a block's time and count columns changed",
            "UPDATE blocks SET time_unix_ms = time_unix_ms + 1, tx_count = tx_count + 1 \
             WHERE height = 4;"
                .into(),
            &["block 4", "time_unix_ms, tx_count"],
        ),
        (
            "a block's Merkle root column rewritten",
            "UPDATE blocks SET merkle_root = randomblob(32) WHERE height = 5;".into(),
            &["block 5", "merkle_root"],
        ),
    ];
    let refusals: Vec<Refusal> = cases
        .iter()
        .map(|(name, sql, needles)| {
            let args = audit_devnet_args(&copy_with_sql(base, scratch, name, sql), &[]);
            Refusal::new(format!("audit after {name}"), args, needles)
        })
        .collect();
    // A copy run through the same SQL connection must audit clean, or every
    // case would pass for nothing.
    let control = audit_devnet_args(&copy_with_sql(base, scratch, "control", "SELECT 1;"), &[]);
    let (control, refused) = run_beside(&refusals, &[control]);
    check_ok(
        "the audit of the untampered copy",
        &control[0],
        &audit_ok_line(6, 6, 4, 10_000, 0),
    );
    check_refusals(&refusals, &refused);
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
    copy_of_shared_devnet(&dir);
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
    // Every case is independent of the others: they run at once, each in
    // files of its own.
    let mut refusals = Vec::new();
    let mut refuse = |what: &str, args: &[&str], needles: &[&str]| {
        refusals.push(Refusal::new(what, owned(args), needles));
    };

    // Key files are never overwritten.
    let before = std::fs::read(&key_file).unwrap();
    refuse(
        "keygen over a key file",
        &["keygen", "--out", key],
        &["must not exist", key],
    );
    refuse(
        "keygen --wallet over a key file",
        &["keygen", "--wallet", "--out", key],
        &["must not exist"],
    );

    // Audit and export inputs.
    refuse(
        "audit of nothing",
        &["audit"],
        &["--database-url", "--export"],
    );
    let zz = "zz".repeat(32);
    let zero = "00".repeat(32);
    for (ledger_key, needles) in [
        ("not-hex", &["64 hex characters"][..]),
        (&zz, &["64 hex characters"]),
        (&zero, &["invalid public key"]),
        (garbage, &[garbage, "not a JSON key file"]),
        (officer, &["block 0", "signature does not verify"]),
    ] {
        refuse(
            &format!("audit with the ledger key {ledger_key}"),
            &["audit", "--database-url", db, "--ledger-key", ledger_key],
            needles,
        );
    }
    refuse(
        "audit without a ledger key",
        &["audit", "--database-url", db],
        &["--ledger-key"],
    );
    // Blocks the journal must hold: `--expect HEIGHT:HASH` and `--receipts DIR`.
    let hash = "ab".repeat(32);
    let no_height = format!("three:{hash}");
    let (no_receipts, empty, not_receipts) = (
        tmp.path().join("no-receipts"),
        tmp.path().join("empty"),
        tmp.path().join("not-receipts"),
    );
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(&not_receipts).unwrap();
    std::fs::copy(&garbage_file, not_receipts.join("garbage.json")).unwrap();
    for (flag, value, needles) in [
        ("--expect", "3", &["--expect is HEIGHT:HASH", "`3`"][..]),
        ("--expect", &hash, &["--expect is HEIGHT:HASH"]),
        (
            "--expect",
            &no_height,
            &["--expect `three:", "the height is not a number"],
        ),
        (
            "--expect",
            "3:zz",
            &["--expect `3:zz`", "the hash is not 64 hex characters"],
        ),
        (
            "--receipts",
            path_str(&no_receipts),
            &["reading the receipts directory", "no-receipts"],
        ),
        (
            "--receipts",
            path_str(&empty),
            &["no receipt files (*.json)"],
        ),
        (
            "--receipts",
            path_str(&not_receipts),
            &["garbage.json", "is not a receipt"],
        ),
    ] {
        refuse(
            &format!("audit {flag} {value}"),
            &[
                "audit",
                "--database-url",
                db,
                "--ledger-key",
                key,
                flag,
                value,
            ],
            needles,
        );
    }
    // A mistyped database path must not create an empty ledger that audits clean.
    refuse(
        "audit of a mistyped database path",
        &[
            "audit",
            "--database-url",
            path_str(&missing_db),
            "--ledger-key",
            key,
        ],
        &["does not exist"],
    );
    // A file that is not a database fails at once, not after the pool's timeout.
    refuse(
        "audit of a text file",
        &["audit", "--database-url", garbage, "--ledger-key", key],
        &["not a SQLite database"],
    );
    let none = tmp.path().join("none.json");
    refuse(
        "audit of a missing export",
        &["audit", "--export", path_str(&none)],
        &["none.json"],
    );
    let export = tmp.path().join("e.json");
    refuse(
        "export of a mistyped database path",
        &[
            "export",
            "--database-url",
            path_str(&missing_db),
            "--ledger-key",
            key,
            "--out",
            path_str(&export),
        ],
        &["does not exist"],
    );
    let unwritable = tmp.path().join("no/such/dir/export.json");
    refuse(
        "export to a missing directory",
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
    refuse(
        "issue without a key",
        &[
            "issue", "--ledger", &nowhere, "propose", "--bank", "b", "--amount", "1",
        ],
        &["--key"],
    );
    // A transport error names the URL and the cause.
    let proposals_url = format!("{nowhere}/v1/issuances");
    refuse(
        "issue to a ledger that is not there",
        &[
            "issue", "--ledger", &nowhere, "--key", officer, "propose", "--bank", "b", "--amount",
            "1",
        ],
        &[&format!(
            "cannot reach the ledger at {proposals_url}: connection refused"
        )],
    );
    let supply_url = format!("{nowhere}/v1/supply");
    refuse(
        "a signed request to a ledger that is not there",
        &[
            "request",
            "GET",
            "/v1/supply",
            "--key",
            officer,
            "--ledger",
            &nowhere,
        ],
        &[&format!(
            "cannot reach the ledger at {supply_url}: connection refused"
        )],
    );
    refuse(
        "a signed request to a path that is not one",
        &[
            "request",
            "GET",
            "v1/supply",
            "--key",
            officer,
            "--ledger",
            &nowhere,
        ],
        &["starting with `/`", "`v1/supply`"],
    );
    // Officer key files given to client commands get the checks a block key
    // does: a wallet is not an officer's key, a directory is no key file.
    let bank_file = dir.join("keys/demo-bank.json");
    let keys_dir = dir.join("keys");
    refuse(
        "issue with a bank's wallet file as the officer's key",
        &[
            "issue",
            "--ledger",
            &nowhere,
            "--key",
            path_str(&bank_file),
            "show",
            "--proposal",
            "00",
        ],
        &[
            path_str(&bank_file),
            "is a wallet key file",
            "not a signing key file",
        ],
    );
    refuse(
        "issue with a directory as the officer's key",
        &[
            "issue",
            "--ledger",
            &nowhere,
            "--key",
            path_str(&keys_dir),
            "show",
            "--proposal",
            "00",
        ],
        &["cannot read key file", path_str(&keys_dir)],
    );
    refuse(
        "officer admit with a text file as a cosigner",
        &[
            "officer", "--ledger", &nowhere, "--key", officer, "--cosign", garbage, "suspend",
            "--id", "x",
        ],
        &[garbage, "not a JSON key file"],
    );
    refuse(
        "bank admit with a wallet file and hex keys",
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
            "--wallet-file",
            path_str(&bank_file),
            "--spend-key",
            &zero,
        ],
        &["--wallet-file", "not both"],
    );
    refuse(
        "bank admit without keys",
        &[
            "bank", "--ledger", &nowhere, "--key", officer, "admit", "--id", "b", "--name", "B",
        ],
        &["--wallet-file FILE", "--spend-key HEX and --view-key HEX"],
    );
    refuse(
        "bank admit with a signing key as the wallet file",
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
            "--wallet-file",
            officer,
        ],
        &[officer, "is a signing key file", "not a wallet file"],
    );
    refuse(
        "bank suspend at a ledger that is not there",
        &[
            "bank", "--ledger", &nowhere, "--key", officer, "suspend", "--id", "b",
        ],
        &["cannot reach the ledger"],
    );
    refuse(
        "bank suspend at an address that is not a URL",
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
    refuse(
        "issue show with a text file as the key",
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
    refuse(
        "bank admit with keys that are not hex",
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

    // Servers.
    let fresh = tmp.path().join("fresh");
    refuse(
        "devnet issuing nothing",
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
    refuse(
        "ledger serve without a database",
        &["ledger", "serve"],
        &["no database", "--database-url"],
    );
    let officer_arg = format!(
        "officer-1={}",
        read_json(&officer_file)["public"].as_str().unwrap()
    );
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nunknown_setting = 1\n").unwrap();
    // Each case has a block key (a ledger never creates one; the refusals of a
    // bad one are `ledger_serve_refuses_a_missing_unreadable_or_different_block_key`).
    let serve_key = tmp.path().join("serve-block-key.json");
    expect_ok(&["keygen", "--out", path_str(&serve_key)]);
    let serve_cases: [(&str, &[&str], &[&str]); 8] = [
        (
            "a threshold of 0",
            &["--threshold", "0"],
            &["threshold", "at least 1"],
        ),
        (
            "an officer without a key",
            &["--officer", "officer-1"],
            &["--officer", "id=<hex public key>"],
        ),
        (
            "an officer's key that is not hex",
            &["--officer", "officer-1=zz"],
            &["64 hex characters"],
        ),
        (
            "a database in a missing directory",
            &["--database-url", path_str(&missing_dir_db)],
            &["directory", "does not exist"],
        ),
        (
            "a text file as the database",
            &["--database-url", garbage],
            &["not a SQLite database"],
        ),
        // A new ledger's genesis names its first officers: none is refused.
        ("no officer", &[], &["genesis", "--officer"]),
        (
            "an address that is not one",
            &[
                "--officer",
                &officer_arg,
                "--threshold",
                "1",
                "--listen",
                "nonsense",
            ],
            &["cannot listen on nonsense"],
        ),
        (
            "an unknown setting in the configuration",
            &["--config", path_str(&config)],
            &["config.toml", "not a valid configuration"],
        ),
    ];
    for (i, (what, extra, needles)) in serve_cases.into_iter().enumerate() {
        let own = tmp.path().join(format!("serve-{i}"));
        std::fs::create_dir(&own).unwrap();
        let serve_db = own.join("ledger.sqlite");
        let mut args = vec!["ledger", "serve", "--block-key", path_str(&serve_key)];
        if !extra.contains(&"--database-url") {
            args.extend(["--database-url", path_str(&serve_db)]);
        }
        if !extra.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        args.extend(extra);
        refuse(&format!("ledger serve with {what}"), &args, needles);
    }
    refuse(
        "an unknown log format",
        &["--log-format", "xml", "audit"],
        &["--log-format", "xml"],
    );

    // clap refuses an amount that is not a number (exit code 2, with usage).
    let negative = owned(&[
        "issue", "--ledger", &nowhere, "--key", officer, "propose", "--bank", "b", "--amount", "-5",
    ]);
    // `--supply-only` does not read the journal, so it cannot hold it to a block
    // or a receipt: given one, it must refuse rather than pass without looking.
    let expect = format!("5:{hash}");
    let supply_only: Vec<Vec<String>> = [
        ["--expect", expect.as_str()],
        ["--receipts", path_str(&not_receipts)],
    ]
    .iter()
    .map(|flag| owned(&[&["audit", "--database-url", db, "--supply-only"][..], flag].concat()))
    .collect();

    let others = [&[negative][..], &supply_only].concat();
    let (outputs, refused) = run_beside(&refusals, &others);
    check_refusals(&refusals, &refused);
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    assert!(!missing_db.exists(), "the audit created {missing_db:?}");
    assert_eq!(
        outputs[0].status.code(),
        Some(2),
        "{}",
        text(&outputs[0].stderr)
    );
    for (args, out) in supply_only.iter().zip(&outputs[1..]) {
        assert!(
            !out.status.success() && text(&out.stderr).contains(&args[4]),
            "`cbdc {}` must refuse {} instead of ignoring it ({}):\n{}{}",
            args.join(" "),
            args[4],
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
    }
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
    assert_eq!(
        summary_line(&stdout, "public key"),
        public,
        "keygen prints the public key: {stdout}"
    );
    assert!(
        !stdout.contains(file["secret"].as_str().unwrap()),
        "keygen must never print the secret"
    );

    // A wallet: spend and view keys, and the address built from them; and its
    // public file, for the central bank.
    let wallet = tmp.path().join("bank.json");
    let public_file = tmp.path().join("bank.public.json");
    let stdout = expect_ok(&[
        "keygen",
        "--wallet",
        "--out",
        path_str(&wallet),
        "--public-out",
        path_str(&public_file),
    ]);
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
    // Each public value on its own labelled line: what `bank admit` needs.
    let spend_public = public_hex(&keys.spend.public_key());
    let view_public = public_hex(&keys.view.public_key());
    assert_eq!(summary_line(&stdout, "address"), address.to_string());
    assert_eq!(summary_line(&stdout, "spend_public"), spend_public);
    assert_eq!(summary_line(&stdout, "view_public"), view_public);
    for secret in [&file["spend"], &file["view"]] {
        assert!(!stdout.contains(secret.as_str().unwrap()), "{stdout}");
    }
    let admit: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("admit with"))
        .map(str::trim)
        .collect();
    let command = "cbdc bank --key OFFICER_KEY_FILE admit --id BANK_ID --name BANK_NAME";
    assert_eq!(
        admit,
        [
            format!("{command} --wallet-file {}", path_str(&public_file)),
            format!("{command} --spend-key {spend_public} --view-key {view_public}"),
        ],
        "{stdout}"
    );
    // The public file holds no secret, and anyone may read it.
    let public_json = read_json(&public_file);
    assert_eq!(
        public_json,
        json!({"kind": "wallet-public", "spend_public": spend_public,
               "view_public": view_public, "address": address.to_string()})
    );
    #[cfg(unix)]
    assert_eq!(mode(&public_file), 0o644);
    // A public file that exists is refused before any key file is written.
    let again = tmp.path().join("bank-2.json");
    expect_error(
        &[
            "keygen",
            "--wallet",
            "--out",
            path_str(&again),
            "--public-out",
            path_str(&public_file),
        ],
        &["bank.public.json", "must not exist"],
    );
    assert!(!again.exists());

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

/// `cbdc ledger serve` on `dir/ledger.sqlite`, signing blocks with `block_key`
/// (which must exist); a new journal is founded with `officers` (`id`, hex key
/// or key file) and a threshold of 2.
fn serve_args(
    dir: &Path,
    block_key: &Path,
    officers: &[(String, String)],
    listen: &str,
) -> Vec<String> {
    let database = dir.join("ledger.sqlite");
    let mut args: Vec<String> = [
        "ledger",
        "serve",
        "--database-url",
        path_str(&database),
        "--block-key",
        path_str(block_key),
        "--threshold",
        "2",
        "--workers",
        "2",
        "--listen",
        listen,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for (id, key) in officers {
        args.push("--officer".into());
        args.push(format!("{id}={key}"));
    }
    args
}

/// A `cbdc ledger serve` child, killed when dropped (also when a test fails).
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts [`serve_args`] on a free port, logging to `dir/serve-{run}.log`.
    fn start(dir: &Path, block_key: &Path, officers: &[(String, String)], run: u32) -> Server {
        let port = free_port();
        let log = dir.join(format!("serve-{run}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let listen = format!("127.0.0.1:{port}");
        let args = serve_args(dir, block_key, officers, &listen);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A log file, as an operator keeps one: no NO_COLOR, so that colour
        // codes would show if the binary wrote them off a terminal.
        let child = cbdc_command(&args)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
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

fn load_signing_key(path: &Path) -> SecretKey {
    secret_from_hex(&read_json(path)["secret"])
}

/// Writes the receipt in a ledger's answer (`{"receipt": ...}`) to `dir/name`,
/// after checking it is one signed by `ledger`; returns it.
#[track_caller]
fn save_receipt(dir: &Path, name: &str, answer: &Value, ledger: &PublicKey) -> Receipt {
    let receipt: Receipt = serde_json::from_value(answer["receipt"].clone())
        .unwrap_or_else(|e| panic!("no receipt in the ledger's answer ({e}): {answer}"));
    receipt.verify(ledger).expect("the receipt verifies");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(name),
        serde_json::to_vec(&answer["receipt"]).unwrap(),
    )
    .unwrap();
    receipt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_serve_issues_with_two_officers_and_survives_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let block_key = dir.join("block-key.json");
    expect_ok(&["keygen", "--out", path_str(&block_key)]);
    let mut officer_keys = Vec::new();
    let mut officers = Vec::new();
    for i in 1..=4 {
        let file = dir.join(format!("officer-{i}.json"));
        expect_ok(&["keygen", "--out", path_str(&file)]);
        officer_keys.push(load_signing_key(&file));
        // Officer 3 is given as its key file, the others as hex; officer 4 is
        // not in the genesis, it is admitted later.
        let key = if i == 3 {
            path_str(&file).to_string()
        } else {
            read_json(&file)["public"].as_str().unwrap().to_string()
        };
        officers.push((format!("officer-{i}"), key));
    }
    let officer_4 = officers.pop().unwrap();
    let officer_file = |i: usize| dir.join(format!("officer-{i}.json"));
    let bank = WalletKeys::generate(&mut rand::rngs::OsRng);
    let http = reqwest::Client::new();
    let receipts = dir.join("receipts");

    let mut server = Server::start(dir, &block_key, &officers, 1);
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
        read_json(&block_key)["public"].as_str().unwrap()
    );

    // Admit the bank (one officer's approval), a governance entry in block 1
    // after the genesis; admitting it again, or a bank acting as an officer, is
    // refused.
    let admitted = officer1
        .admit(
            "bank-1",
            "Bank One",
            Role::Bank,
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
            &[],
        )
        .await
        .expect("admit the bank");
    let receipt = save_receipt(&receipts, "bank-1.json", &admitted, &ledger_key);
    assert_eq!(receipt.block.height, 1);
    assert_eq!(admitted["tx_id"], receipt.tx_id.to_string().as_str());
    let again = officer2
        .admit(
            "bank-1",
            "Bank One",
            Role::Bank,
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("participant_exists"), "{again}");
    // A bank may ask for its own float (officers still approve: nothing is
    // issued by the proposal), never for another bank's.
    let own = bank_client.propose("bank-1", Amount::new(1)).await.unwrap();
    assert_eq!(own["proposer_id"], "bank-1", "{own}");
    assert_eq!(own["state"], "open", "{own}");
    assert_eq!(own["approvals"], serde_json::json!([]), "{own}");
    let seen = bank_client
        .proposal(own["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(seen["id"], own["id"], "a bank reads its own proposal");
    let forbidden = bank_client
        .propose("bank-2", Amount::new(1))
        .await
        .unwrap_err();
    assert_eq!(forbidden.code(), Some("not_own_bank"), "{forbidden}");

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
    let receipt = save_receipt(&receipts, "issue-1.json", &executed, &ledger_key);
    assert_eq!(receipt.block.height, 2);

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

    // Nothing is audited yet: the supply is labelled as such.
    let supply = bank_client.supply().await.unwrap();
    assert_eq!(supply["audited"], Value::Null, "{supply}");
    assert_eq!(supply["unaudited"]["outstanding"], 250_000, "{supply}");
    assert_eq!(supply["unaudited"]["height"], 2, "{supply}");
    assert_eq!(
        supply["supply_ceiling"], 1_000_000_000_000_000u64,
        "{supply}"
    );

    // A fourth officer needs the threshold's two approvals: `--key` and one
    // `--cosign`. The same officer twice is still one approval.
    let files: Vec<PathBuf> = (1..=4).map(officer_file).collect();
    let admit_officer_4 = |cosigners: &[usize]| {
        let mut args = vec!["officer", "--ledger", &base, "--key", path_str(&files[0])];
        for &i in cosigners {
            args.extend(["--cosign", path_str(&files[i - 1])]);
        }
        args.extend(["admit", "--id", "officer-4", "--name", "Officer Four"]);
        args.extend(["--public-key", path_str(&files[3])]);
        cbdc(&args)
    };
    for cosigners in [&[][..], &[1][..]] {
        check_error(
            &format!("admitting officer 4 with cosigners {cosigners:?}"),
            &admit_officer_4(cosigners),
            &["too_few_officers"],
        );
    }
    let out = admit_officer_4(&[2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("officer admit prints JSON");
    let receipt = save_receipt(&receipts, "officer-4.json", &answer, &ledger_key);
    assert_eq!(receipt.block.height, 3);
    let info = officer1
        .request(reqwest::Method::GET, "/v1/ledger", None)
        .await
        .unwrap();
    assert_eq!(info["governance_sequence"], 3, "{info}");

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

    // A crash, then a restart on the same file (and a new port). The journal is
    // in force: configuring an officer with another key than the journal's is
    // refused; officer 4, admitted by the journal, need not be configured.
    server.crash();
    let mut rekeyed = officers.clone();
    rekeyed[0].1 = officer_4.1.clone();
    let refused = serve_args(dir, &block_key, &rekeyed, "127.0.0.1:0");
    expect_error(
        &refused.iter().map(String::as_str).collect::<Vec<_>>(),
        &[
            "officer officer-1",
            "another key",
            "the journal is in force",
        ],
    );
    let mut server = Server::start(dir, &block_key, &officers, 2);
    server.wait_ready(&http).await;
    let base = server.base.clone();
    let officer3 = LedgerClient::new(&base, officer_keys[2].clone());
    assert_eq!(
        public_hex(&officer3.ledger_key().await.unwrap()),
        public_hex(&ledger_key),
        "the block key is reused"
    );
    let audit = officer3.audit().await.unwrap();
    assert_eq!(audit["state"], "passed", "{audit}");
    assert_eq!(
        (
            &audit["blocks"],
            &audit["transactions"],
            &audit["unspent_notes"]
        ),
        (&json!(4), &json!(4), &json!(1)),
        "{audit}"
    );
    assert_eq!(
        (&audit["issued"], &audit["redeemed"], &audit["outstanding"]),
        (&json!("250000"), &json!("0"), &json!(250_000)),
        "{audit}"
    );
    let supply = officer3.supply().await.unwrap();
    assert_eq!(supply["audited"]["height"], 3, "{supply}");
    assert_eq!(supply["audited"]["issued"], "250000", "{supply}");
    assert_eq!(supply["audited"]["outstanding"], 250_000, "{supply}");
    assert_eq!(supply["last_audit"]["id"], audit["id"], "{supply}");
    assert_eq!(supply["running_audit"], Value::Null, "{supply}");
    let shown = officer3.proposal(&proposal_id).await.unwrap();
    assert_eq!(shown["state"], "executed");

    // The restarted ledger issues again, approved by officer 4, and the offline
    // audit (beside the running server) agrees, holding every receipt the
    // ledger gave.
    let officer2 = LedgerClient::new(&base, officer_keys[1].clone());
    let officer4 = LedgerClient::new(&base, officer_keys[3].clone());
    let second = officer2
        .propose("bank-1", Amount::new(50_000))
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    officer2.approve(second_id).await.unwrap();
    let done = officer4.approve(second_id).await.unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    assert_eq!(
        done["approvals"],
        json!(["officer-2", "officer-4"]),
        "{done}"
    );
    let receipt = save_receipt(&receipts, "issue-2.json", &done, &ledger_key);
    assert_eq!(receipt.block.height, 4);
    let audit = expect_ok(&[
        "audit",
        "--database-url",
        path_str(&dir.join("ledger.sqlite")),
        "--ledger-key",
        path_str(&block_key),
        "--receipts",
        path_str(&receipts),
    ]);
    assert_eq!(audit, audit_ok_line(5, 5, 2, 300_000, 0));
    let log = server.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    drop(server);

    // The OpenAPI document describes every route the CLI and the client use
    // (checked last, so a gap in the document hides none of the above).
    let undocumented: Vec<&str> = ["/v1/governance", "/v1/audit", "/v1/audits/{id}"]
        .into_iter()
        .filter(|path| !paths.contains_key(*path))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /openapi.json: {undocumented:?} (it has {:?})",
        paths.keys().collect::<Vec<_>>()
    );
}

/// A consistent rollback of the last block of a two-run devnet, the second
/// payment (block 5): the rows it derived go (its notes, their events, its
/// kernel), its input is unspent again, its transaction and block rows go and
/// the chain head points at block 4 again. Every table then agrees with the
/// shorter journal, and every remaining block is the ledger's own.
const ROLL_BACK_THE_LAST_PAYMENT: &str = "
    CREATE TEMP TABLE rolled AS SELECT id FROM transactions WHERE block_height = 5;
    DELETE FROM events WHERE tx_id IN (SELECT id FROM rolled);
    DELETE FROM notes WHERE created_by IN (SELECT id FROM rolled);
    UPDATE notes SET spent_by = NULL, spent_seq = NULL WHERE spent_by IN (SELECT id FROM rolled);
    DELETE FROM kernels WHERE tx_id IN (SELECT id FROM rolled);
    DELETE FROM transactions WHERE block_height = 5;
    DELETE FROM blocks WHERE height = 5;
    UPDATE chain_head SET next_height = 5,
        tip_hash = (SELECT hash FROM blocks WHERE height = 4),
        next_event_seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM events);";

/// Without anything from outside, a consistent rollback is a valid shorter
/// history. An auditor holding the last block of an earlier audit
/// (`--expect HEIGHT:HASH`), or a bank holding receipts (`--receipts DIR`),
/// sees it; and a fork (the rolled-back ledger going on with other blocks in
/// their place) too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_or_a_fork_fails_the_audit_given_blocks_seen_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let shared = copy_of_shared_devnet(&dir);
    let payments = shared.payments;

    // The rollback: one block, one transaction and the payment's two notes
    // fewer, its input unspent again. Then a fork: the rolled-back ledger goes
    // on, block 5 is now an issue (then a payment; devnet's own audit passes).
    // The fork grows while the receipts are fetched.
    let rolled = copy_with_sql(&dir, tmp.path(), "rolled back", ROLL_BACK_THE_LAST_PAYMENT);
    let forked = tmp.path().join("forked");
    copy_dir(&rolled, &forked);
    let fork = tokio::task::spawn_blocking({
        let forked = forked.clone();
        move || {
            grow_devnet(&forked, 5_000);
            devnet_once(&forked, 5_000)
        }
    });

    // Both payments' receipts (blocks 3 and 5), as the bank keeps them, from
    // the ledger: `ledger serve` on the devnet's database, its journal in force
    // without any configured officer.
    let receipts = tmp.path().join("receipts");
    let last = {
        let http = reqwest::Client::new();
        let mut server = Server::start(&dir, &dir.join("keys/ledger.json"), &[], 1);
        server.wait_ready(&http).await;
        let bank = secret_from_hex(&read_json(&dir.join("keys/demo-bank.json"))["spend"]);
        let client = LedgerClient::new(&server.base, bank);
        let ledger_key = client.ledger_key().await.unwrap();
        let mut blocks = Vec::new();
        for (i, id) in payments.iter().enumerate() {
            let answer = client.transaction(id).await.expect("the payment is served");
            let name = format!("payment-{}.json", i + 1);
            blocks.push(save_receipt(&receipts, &name, &answer, &ledger_key).block);
        }
        assert_eq!(blocks.iter().map(|b| b.height).collect::<Vec<_>>(), [3, 5]);
        blocks[1]
    };
    // A receipt whose transaction was changed does not verify at all.
    let forged = tmp.path().join("forged-receipts");
    std::fs::create_dir(&forged).unwrap();
    let mut receipt = read_json(&receipts.join("payment-1.json"));
    flip_hex(&mut receipt["tx_id"], 0);
    std::fs::write(forged.join("payment.json"), receipt.to_string()).unwrap();
    let third = fork.await.expect("the fork's devnet run");
    assert_eq!(devnet_audit(&third)["blocks"], 7, "{third}");

    // The last block as `HEIGHT:HASH` (an auditor's note of an earlier audit, or
    // a bank's of its receipt), and the receipts: the journal holds them all.
    // The rollback passes a plain audit, but not with the block seen, nor with
    // the receipts; neither does the fork.
    let hash = hex::encode(last.hash());
    let seen = format!("5:{hash}");
    let expect_arg = ["--expect", seen.as_str()];
    let receipts_arg = ["--receipts", path_str(&receipts)];
    let passes = [
        audit_devnet_args(&dir, &[&expect_arg[..], &receipts_arg].concat()),
        audit_devnet_args(&rolled, &[]),
    ];
    let rollback = "rollback or fork: ";
    let was_seen = format!("but {hash} was seen");
    let refusals = [
        Refusal::new(
            "an audit of the rollback expecting the last block",
            audit_devnet_args(&rolled, &expect_arg),
            &[
                rollback,
                &format!("--expect {seen}: block 5 ("),
                "rolled back",
            ],
        ),
        Refusal::new(
            "an audit of the rollback with the receipts",
            audit_devnet_args(&rolled, &receipts_arg),
            &[rollback, "payment-2.json: block 5 (", "rolled back"],
        ),
        Refusal::new(
            "an audit of the fork expecting the last block",
            audit_devnet_args(&forked, &expect_arg),
            &[rollback, "block 5 is ", &was_seen, "a fork"],
        ),
        Refusal::new(
            "an audit of the fork with the receipts",
            audit_devnet_args(&forked, &receipts_arg),
            &[rollback, "payment-2.json: block 5 is ", "a fork"],
        ),
        Refusal::new(
            "an audit with a receipt whose transaction was changed",
            audit_devnet_args(&dir, &["--receipts", path_str(&forged)]),
            &["payment.json", "does not verify with the ledger key"],
        ),
    ];
    let (passed, refused) = run_beside(&refusals, &passes);
    let details = check_ok(
        "the audit holding the block seen and the receipts",
        &passed[0],
        &audit_ok_line(6, 6, 4, 10_000, 0),
    );
    assert!(details.contains("3 expected blocks found"), "{details}");
    assert_eq!(audited_tip(&details), (5, hash.clone()), "{details}");
    check_ok(
        "the audit of the rollback",
        &passed[1],
        &audit_ok_line(5, 5, 3, 10_000, 0),
    );
    check_refusals(&refusals, &refused);
}

/// `cbdc ledger serve --database-url DB --block-key KEY` with nothing else: on
/// an existing database its journal is in force.
fn serve_refusal(what: &str, database: &Path, key: &Path, needles: &[&str]) -> Refusal {
    let args = [
        "ledger",
        "serve",
        "--database-url",
        path_str(database),
        "--block-key",
        path_str(key),
        "--listen",
        "127.0.0.1:0",
    ];
    Refusal::new(what, owned(&args), needles)
}

/// A ledger never starts with a block key other than its journal's, and
/// never makes one up: each refusal names the path, exits non-zero, and leaves
/// the database as it was (a new database is not even created).
#[test]
fn ledger_serve_refuses_a_missing_unreadable_or_different_block_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let database = dir.join("ledger.sqlite");
    let before = std::fs::read(&database).unwrap();
    let typo = dir.join("keys/ledgr.json");
    let keys_dir = dir.join("keys");
    let garbage = tmp.path().join("garbage.json");
    std::fs::write(&garbage, "{ not JSON\n").unwrap();
    let wallet = dir.join("keys/demo-bank.json");
    let other = tmp.path().join("other-key.json");
    expect_ok(&["keygen", "--out", path_str(&other)]);
    let other_public = read_json(&other)["public"].as_str().unwrap().to_owned();
    let new_database = tmp.path().join("new/ledger.sqlite");
    std::fs::create_dir(new_database.parent().unwrap()).unwrap();

    let refusals = [
        serve_refusal(
            "a missing block key file (a mistyped path)",
            &database,
            &typo,
            &[
                &format!("no block key file at {}", path_str(&typo)),
                "never creates its key",
            ],
        ),
        // "Unreadable": the tests run as root, who reads a file whatever its
        // mode (chmod 000 would not stop it), so a directory stands for a key
        // file that cannot be read, and text for one that cannot be parsed.
        serve_refusal(
            "an unreadable block key file (a directory)",
            &database,
            &keys_dir,
            &[
                "the ledger's block key",
                "cannot read key file",
                path_str(&keys_dir),
            ],
        ),
        serve_refusal(
            "a block key file that is not JSON",
            &database,
            &garbage,
            &[path_str(&garbage), "is not a JSON key file"],
        ),
        serve_refusal(
            "a bank's wallet file as the block key",
            &database,
            &wallet,
            &[
                path_str(&wallet),
                "is a wallet key file",
                "not a signing key file",
            ],
        ),
        serve_refusal(
            "another key than the one the journal's genesis names",
            &database,
            &other,
            &[
                &format!("block key file {}", path_str(&other)),
                &format!("the block key {other_public} did not found this ledger"),
            ],
        ),
        serve_refusal(
            "a missing block key file for a new ledger",
            &new_database,
            &typo,
            &[&format!("no block key file at {}", path_str(&typo))],
        ),
    ];
    let (_, refused) = run_beside(&refusals, &[]);
    check_refusals(&refusals, &refused);

    // Nothing was created or written: no key file, no new database, the
    // existing one byte for byte as it was, with nothing in a write-ahead log,
    // and its journal still audits to its last block (5).
    assert!(!typo.exists(), "a block key file was created at {typo:?}");
    assert!(
        !new_database.exists(),
        "a database was created at {new_database:?}"
    );
    assert!(
        std::fs::read(&database).unwrap() == before,
        "the database changed"
    );
    assert_eq!(
        wal_len(&database),
        0,
        "something was written to the database"
    );
    let out = cbdc(&owned_refs(&audit_devnet_args(&dir, &[])));
    let stderr = check_ok(
        "the audit afterwards",
        &out,
        &audit_ok_line(6, 6, 4, 10_000, 0),
    );
    assert_eq!(audited_tip(&stderr).0, 5);
}

fn owned_refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A devnet creates its keys on its first run only: on a rerun a missing key
/// file is an error naming it, never a new key that the journal does not know.
#[test]
fn a_devnet_rerun_refuses_to_replace_a_missing_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "ledger.json",
        "officer-2.json",
        "demo-bank.json",
        "demo-customer.json",
    ];
    let mut refusals = Vec::new();
    let mut removed = Vec::new();
    for name in names {
        let dir = tmp.path().join(format!("without-{name}"));
        copy_of_shared_devnet(&dir);
        let key = dir.join("keys").join(name);
        std::fs::remove_file(&key).unwrap();
        let args = [
            "devnet",
            "--once",
            "--data-dir",
            path_str(&dir),
            "--listen",
            "127.0.0.1:0",
        ];
        let remove = format!("remove {} to start afresh", path_str(&dir));
        refusals.push(Refusal::new(
            format!("a devnet rerun without {name}"),
            owned(&args),
            &[
                &format!("the key file {} is missing", path_str(&key)),
                "never replaces a key",
                &remove,
            ],
        ));
        removed.push((dir, key));
    }
    let (_, refused) = run_beside(&refusals, &[]);
    check_refusals(&refusals, &refused);
    for (dir, key) in &removed {
        assert!(!key.exists(), "{key:?} was created again");
        assert!(
            std::fs::read_dir(dir.join("keys")).unwrap().count() == 5,
            "the other keys stay as they are"
        );
    }
}

/// A serving devnet stops on SIGTERM exactly as on SIGINT: exit 0, its final
/// checkpoint done (the write-ahead log folded into the database file, which
/// alone then holds the whole ledger). Run twice, it issues once.
/// The two-tier devnet: bank A and bank B are admitted, their floats issued
/// once, and both gateways serve on SQLite and credit their floats (the
/// devnet waits for that before it prints); a rerun issues nothing more and
/// the gateways pick up their databases.
#[test]
fn devnet_starts_two_gateways_and_issues_their_floats_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let run = || {
        expect_ok(&[
            "devnet",
            "--once",
            "--data-dir",
            path_str(&dir),
            "--listen",
            "127.0.0.1:0",
            "--issue",
            "5000",
        ])
    };
    let first = run();
    for bank in ["bank-a", "bank-b"] {
        assert!(
            first.contains(&format!("admitted bank {bank}\n")),
            "{first}"
        );
        assert!(
            first.contains(&format!("issued 10000000 minor units to {bank}'s float\n")),
            "{first}"
        );
        assert!(
            first.contains(&format!("gateway       {bank} http://127.0.0.1:")),
            "{first}"
        );
        assert!(dir.join(format!("gateway-{bank}.sqlite")).exists());
        assert!(dir
            .join("keys")
            .join(format!("{bank}-gateway.json"))
            .exists());
    }
    let second = run();
    assert!(
        !second.contains("'s float"),
        "a rerun issued again:\n{second}"
    );
    assert!(!second.contains("admitted bank bank-"), "{second}");
    for bank in ["bank-a", "bank-b"] {
        assert!(
            second.contains(&format!("gateway       {bank} http://127.0.0.1:")),
            "{second}"
        );
    }
}

/// The whole devnet serves the wallet API: the `curl` line it prints works
/// as printed (through a shell, continuation line and all) and shows the
/// demo wallet, and `cbdc demo` runs the two-tier flow against it to the end
/// (it checks every balance, the audit and both banks' positions itself).
#[test]
fn devnet_serves_the_wallet_api_and_cbdc_demo_runs_the_two_tier_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let mut devnet = Devnet::start_all(&dir, "all");
    devnet.wait_serving();
    let (out, _) = devnet.output();
    let wallet_api = summary_line(&out, "wallet API");
    assert!(wallet_api.starts_with("http://127.0.0.1:"), "{out}");
    // The curl line and its continuation, exactly as printed.
    let start = out
        .find("curl -H 'X-Cbdc-App-Key: ")
        .expect("a curl line for the wallet API");
    let printed: String = out[start..].lines().take(2).collect::<Vec<_>>().join("\n");
    let shown = Command::new("sh")
        .args(["-c", &format!("{printed} -sS")])
        .output()
        .expect("sh runs");
    let body = text(&shown.stdout);
    assert!(shown.status.success(), "{printed}: {}", text(&shown.stderr));
    let wallet: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(wallet["bank"], "bank-a", "{body}");
    assert_eq!(wallet["tier"], "anonymous", "{body}");
    assert!(
        wallet["wallet_id"]
            .as_str()
            .is_some_and(|w| w.starts_with("w_")),
        "{body}"
    );

    let demo = cbdc(&["demo", "--data-dir", path_str(&dir)]);
    let shown = text(&demo.stdout);
    assert!(
        demo.status.success(),
        "cbdc demo failed:\n{shown}\n{}",
        text(&demo.stderr)
    );
    for step in [
        "Alice opens a wallet at bank-a",
        "a merchant opens a wallet at bank-b",
        "Alice pays the merchant 150,000 across banks: final",
        "credited the merchant: 150,000",
        "the request is paid",
        "(the waterfall)",
        "the merchant defunds 300,000",
        "the ledger's supply audit passed",
        "bank-a's position proof checks against the ledger",
        "bank-b's position proof checks against the ledger",
        "the two-tier flow worked end to end",
    ] {
        assert!(shown.contains(step), "no {step:?} in:\n{shown}");
    }
    assert!(dir.join("demo-request.png").exists());
    let status = devnet.stop("TERM");
    let (_, err) = devnet.output();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn devnet_issues_once_and_stops_cleanly_on_sigterm_and_sigint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let database = dir.join("ledger.sqlite");

    let mut first = Devnet::start(&dir, "first");
    first.wait_serving();
    assert!(
        wal_len(&database) > 0,
        "while serving, the blocks are in the write-ahead log"
    );
    let status = first.stop("TERM");
    let (out, err) = first.output();
    assert_eq!(status.code(), Some(0), "SIGTERM: {status}\n{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.contains("issued 5000 minor units to demo-bank"),
        "{out}"
    );
    assert!(
        out.contains("stopped (SIGTERM); database checkpointed"),
        "{out}"
    );
    assert_eq!(wal_len(&database), 0, "the final checkpoint did not run");
    // Serving, it printed its URL and the commands that use it.
    assert!(
        summary_line(&out, "ledger ").starts_with(&first.base),
        "{out}"
    );
    let request = summary_line(&out, "request ");
    let officer_1 = dir.join("keys/officer-1.json");
    assert_eq!(
        request,
        format!(
            "cbdc request GET /v1/supply --key {} --ledger {}",
            path_str(&officer_1),
            first.base
        )
    );

    // The database file alone (no log beside it) is the ledger: the command
    // the devnet printed audits a copy of it.
    let alone = tmp.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&database, alone.join("ledger.sqlite")).unwrap();
    let printed = summary_line(&out, "audit again").to_owned();
    let mut args: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(args.remove(0), "cbdc");
    let copy = alone.join("ledger.sqlite");
    args[2] = path_str(&copy);
    let audited = expect_ok(&args);
    assert_eq!(audited, audit_ok_line(4, 4, 2, 5_000, 0));

    // Again on the same directory, stopped with SIGINT: no second issue.
    let mut second = Devnet::start(&dir, "second");
    second.wait_serving();
    let status = second.stop("INT");
    let (again, err) = second.output();
    assert_eq!(status.code(), Some(0), "SIGINT: {status}\n{again}\n{err}");
    assert!(
        again.contains("stopped (SIGINT); database checkpointed"),
        "{again}"
    );
    assert_eq!(wal_len(&database), 0);
    assert!(
        again.contains("already holds money on this ledger: nothing issued"),
        "{again}"
    );
    assert!(!again.contains("minor units to demo-bank"), "{again}");
    for label in ["supply", "balances"] {
        assert_eq!(summary_line(&again, label), summary_line(&out, label));
    }
    assert_eq!(
        summary_line(&again, "supply"),
        "issued 5000, redeemed 0, outstanding 5000"
    );
}

/// `cbdc ledger serve` stops on SIGTERM with exit 0 after its checkpoint, and
/// its text log, written to a file, carries no ANSI colour codes (no NO_COLOR
/// asked for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_serve_stops_cleanly_on_sigterm_and_logs_without_colour_to_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let database = dir.join("ledger.sqlite");
    let http = reqwest::Client::new();
    let mut server = Server::start(&dir, &dir.join("keys/ledger.json"), &[], 1);
    server.wait_ready(&http).await;
    let (status, _) = get(&http, format!("{}/readyz", server.base)).await;
    assert_eq!(status, 200);
    // What an operator's log must show: a signed read, a proposal (its amount
    // never logged), a forged signature and a replay, each on its own line.
    let officer = dir.join("keys/officer-1.json");
    let officer = path_str(&officer);
    let out = cbdc(&[
        "request",
        "GET",
        "/v1/supply",
        "--key",
        officer,
        "--ledger",
        &server.base,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cbdc(&[
        "issue",
        "--ledger",
        &server.base,
        "--key",
        officer,
        "propose",
        "--bank",
        "demo-bank",
        "--amount",
        "7654321",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let headers = text(
        &cbdc(&[
            "request",
            "GET",
            "/v1/ledger",
            "--key",
            officer,
            "--ledger",
            &server.base,
            "--print-headers",
        ])
        .stdout,
    );
    let url = format!("{}/v1/ledger", server.base);
    assert_eq!(curl(&[url.as_str()], &headers).0, 200);
    assert_eq!(curl(&[url.as_str()], &headers).0, 401, "the replay");
    let forged: String = headers
        .lines()
        .map(|line| {
            if line.starts_with("-H 'x-cbdc-timestamp: ") {
                // Signed for another moment: the signature no longer verifies.
                let mut forged = line.to_string();
                let at = forged.len() - 2;
                let old = forged.as_bytes()[at];
                forged.replace_range(at..at + 1, if old == b'0' { "1" } else { "0" });
                forged
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(curl(&[url.as_str()], &forged).0, 401, "the forgery");
    let status = signal_and_wait(&mut server.child, "TERM");
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{status}:\n{log}");
    for wanted in [
        "cbdc::access: request method=GET route=/v1/supply status=200",
        "caller=\"officer-1\"",
        "cbdc::access: request method=POST route=/v1/issuances status=201",
        "cbdc::issuance: issuance proposed",
        "cbdc::security: refused request code=\"replayed_request\"",
        "code=\"bad_request_signature\"",
    ] {
        assert!(log.contains(wanted), "the log lacks {wanted:?}:\n{log}");
    }
    let secret = std::fs::read_to_string(dir.join("keys/officer-1.json")).unwrap();
    let secret: Value = serde_json::from_str(&secret).unwrap();
    let secret = secret["secret"].as_str().unwrap();
    assert!(!log.contains(secret), "a secret key in the log");
    assert!(!log.contains("7654321"), "an amount in the log:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("ledger serving"), "{log}");
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    assert!(
        log.contains("ledger stopped; database checkpointed"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a log file:\n{log}"
    );
    assert_eq!(wal_len(&database), 0, "the final checkpoint did not run");
}

/// The value of a `-H 'name: value'` line that `--print-headers` prints.
#[track_caller]
fn header_value(line: &str) -> &str {
    line.strip_prefix("-H '")
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("not a `-H 'name: value'` line: {line}"))
}

/// Runs curl with `args` and the headers `--print-headers` printed; returns
/// the HTTP status and the body.
fn curl(args: &[&str], headers: &str) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-w", "\n%{http_code}"]).args(args);
    for line in headers.lines() {
        command.args(["-H", header_value(line)]);
    }
    let out = command.output().expect("curl runs");
    assert!(out.status.success(), "curl failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (body, status) = stdout.rsplit_once('\n').expect("curl's status line");
    (status.parse().expect("an HTTP status"), body.to_owned())
}

/// `cbdc request` signs and sends any request and prints the answer; its
/// `--print-headers` are what a real curl needs for the same request (once);
/// what `keygen --wallet` prints is what `bank admit` takes.
#[test]
fn cbdc_request_and_curl_make_signed_requests_and_keygen_output_admits_a_bank() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let mut devnet = Devnet::start(&dir, "request");
    devnet.wait_serving();
    let base = devnet.base.clone();
    let officer = dir.join("keys/officer-1.json");
    let officer = path_str(&officer);

    // The supply, signed by an officer: the status line on stderr, the
    // answer as pretty JSON on stdout.
    let out = cbdc(&[
        "request",
        "GET",
        "/v1/supply",
        "--key",
        officer,
        "--ledger",
        &base,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "HTTP/1.1 200 OK\n");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("{\n  \""), "not pretty JSON:\n{stdout}");
    let supply: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(supply["unaudited"]["outstanding"], 10_000, "{supply}");
    assert_eq!(supply["audited"]["outstanding"], 10_000, "{supply}");

    // An error answer: its body on stdout, the status as the error, exit 1.
    let out = cbdc(&[
        "request",
        "GET",
        "/v1/issuances/zz",
        "--key",
        officer,
        "--ledger",
        &base,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let error: Value = serde_json::from_slice(&out.stdout).expect("the error body is JSON");
    assert!(error["code"].is_string(), "{error}");
    assert!(
        text(&out.stderr).starts_with("cbdc: HTTP/1.1 4"),
        "{}",
        text(&out.stderr)
    );

    // The same request by curl, with the headers printed for it: it passes,
    // once (the nonce is single-use, so the same headers again are a replay).
    let headers = expect_ok(&[
        "request",
        "GET",
        "/v1/supply",
        "--key",
        officer,
        "--ledger",
        &base,
        "--print-headers",
    ]);
    let names: Vec<&str> = headers
        .lines()
        .map(|line| header_value(line).split_once(':').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "x-cbdc-key",
            "x-cbdc-timestamp",
            "x-cbdc-nonce",
            "x-cbdc-signature"
        ]
    );
    let url = format!("{base}/v1/supply");
    let (status, body) = curl(&[&url], &headers);
    assert_eq!(status, 200, "{body}");
    let by_curl: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(by_curl["unaudited"], supply["unaudited"]);
    let (status, body) = curl(&[&url], &headers);
    assert_eq!(status, 401, "a replay must be refused: {body}");
    assert!(body.contains("replayed_request"), "{body}");

    // With a body: the headers sign exactly the file's bytes, sent by curl.
    let proposal = tmp.path().join("proposal.json");
    std::fs::write(&proposal, r#"{"bank_id": "demo-bank", "amount": 7}"#).unwrap();
    let headers = expect_ok(&[
        "request",
        "POST",
        "/v1/issuances",
        "--body",
        path_str(&proposal),
        "--key",
        officer,
        "--ledger",
        &base,
        "--print-headers",
    ]);
    assert!(
        headers.ends_with("-H 'content-type: application/json'\n"),
        "{headers}"
    );
    let data = format!("@{}", path_str(&proposal));
    let issuances = format!("{base}/v1/issuances");
    let (status, body) = curl(
        &["-X", "POST", "--data-binary", &data, &issuances],
        &headers,
    );
    assert_eq!(status, 201, "{body}");
    let proposed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&proposed["amount"], &proposed["state"]),
        (&json!(7), &json!("open"))
    );

    // Two new banks admitted as `keygen --wallet` says: one by its public file,
    // one by the printed hex keys; a third by its wallet key file itself.
    let mut admitted = Vec::new();
    for (i, how) in ["public file", "hex keys", "wallet key file"]
        .iter()
        .enumerate()
    {
        let wallet = tmp.path().join(format!("bank-{i}.json"));
        let public_file = tmp.path().join(format!("bank-{i}.public.json"));
        let printed = expect_ok(&[
            "keygen",
            "--wallet",
            "--out",
            path_str(&wallet),
            "--public-out",
            path_str(&public_file),
        ]);
        let admit_lines: Vec<&str> = printed
            .lines()
            .filter_map(|line| line.strip_prefix("admit with"))
            .collect();
        let command = match *how {
            "public file" => admit_lines[0].to_owned(),
            "hex keys" => admit_lines[1].to_owned(),
            _ => format!(
                "cbdc bank --key OFFICER_KEY_FILE admit --id BANK_ID --name BANK_NAME \
                 --wallet-file {}",
                path_str(&wallet)
            ),
        };
        let id = format!("bank-{i}");
        let mut args: Vec<&str> = command
            .split_whitespace()
            .map(|word| match word {
                "OFFICER_KEY_FILE" => officer,
                "BANK_ID" => &id,
                "BANK_NAME" => "Another",
                word => word,
            })
            .collect();
        assert_eq!(args.remove(0), "cbdc", "{command}");
        args.extend(["--ledger", &base]);
        let answer = cbdc(&args);
        assert!(
            answer.status.success(),
            "admitting by the {how}: `{}`:\n{}",
            args.join(" "),
            text(&answer.stderr)
        );
        let public = read_json(&public_file);
        admitted.push((id, public));
    }
    let participants = expect_ok(&[
        "request",
        "GET",
        "/v1/participants",
        "--key",
        officer,
        "--ledger",
        &base,
    ]);
    let participants: Value = serde_json::from_str(&participants).unwrap();
    for (id, public) in &admitted {
        let bank = participants["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| &p["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not a participant: {participants}"));
        assert_eq!(bank["key"], public["spend_public"], "{bank}");
        assert_eq!(bank["view_key"], public["view_public"], "{bank}");
    }
    // A bank signs its own requests with its wallet file.
    let bank_0 = tmp.path().join("bank-0.json");
    expect_ok(&[
        "request",
        "GET",
        "/v1/supply",
        "--key",
        path_str(&bank_0),
        "--ledger",
        &base,
    ]);
    let status = devnet.stop("TERM");
    assert!(status.success(), "{status}");
}

/// `cbdc seed` turns a database into a fixture for good, so it asks for
/// `--yes` first and changes nothing without it; with it, its progress on a
/// stderr that is not a terminal is a few plain lines, no ANSI codes.
#[test]
fn seed_asks_for_yes_and_reports_progress_in_plain_lines_off_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let database = dir.join("ledger.sqlite");
    let key = dir.join("keys/ledger.json");
    let before = std::fs::read(&database).unwrap();
    let args = [
        "seed",
        "--database-url",
        path_str(&database),
        "--block-key",
        path_str(&key),
        "--notes",
        "1000",
        "--notes-per-transaction",
        "100",
    ];
    expect_error(
        &args,
        &[
            "turns",
            path_str(&database),
            "journal audit",
            "--supply-only",
            "give --yes",
        ],
    );
    assert!(
        std::fs::read(&database).unwrap() == before,
        "seeded without --yes"
    );
    assert_eq!(wal_len(&database), 0);

    let out = cbdc(&[&args[..], &["--yes"]].concat());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("seeded 1000 filler notes in 10 transactions, blocks 6..=6;"),
        "{stdout}"
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "seed: generating 1000 filler notes",
            "seed: writing transactions",
            "seed: writing notes",
            "seed: writing events",
            "seed: writing kernels",
            "seed: writing blocks",
        ],
        "{stderr:?}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    let supply = expect_ok(&[
        "audit",
        "--database-url",
        path_str(&database),
        "--supply-only",
    ]);
    assert!(
        supply.starts_with("supply OK: 1004 unspent notes, "),
        "{supply}"
    );
}

/// Loading a key file that other users can read warns, naming the file and
/// the fix; a private one does not.
#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_gets_a_warning_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let database = dir.join("ledger.sqlite");
    let key = dir.join("keys/ledger.json");
    let export = |name: &str| {
        let out = tmp.path().join(name);
        cbdc(&[
            "export",
            "--database-url",
            path_str(&database),
            "--block-key",
            path_str(&key),
            "--out",
            path_str(&out),
        ])
    };
    let private = export("private.json");
    assert!(private.status.success(), "{}", text(&private.stderr));
    assert_eq!(text(&private.stderr), "", "a 0600 key file gets no warning");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = export("exposed.json");
    assert!(exposed.status.success(), "{}", text(&exposed.stderr));
    let warning = text(&exposed.stderr);
    assert!(
        warning.contains(&format!(
            "key file {} can be read by other users",
            path_str(&key)
        )) && warning.contains(&format!("chmod 600 {}", path_str(&key))),
        "{warning}"
    );
}

/// Officers proposing at once on the devnet's SQLite: every proposal is
/// created (a transaction that reads before it writes once failed at once
/// with "database is locked", a 500, instead of waiting for the other writer).
#[test]
fn concurrent_proposals_on_sqlite_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    copy_of_shared_devnet(&dir);
    let mut devnet = Devnet::start(&dir, "proposals");
    devnet.wait_serving();
    let base = devnet.base.clone();
    let key = dir.join("keys/officer-1.json");
    let key = path_str(&key).to_owned();
    let runs: Vec<_> = (0..24)
        .map(|i| {
            let (base, key) = (base.clone(), key.clone());
            std::thread::spawn(move || {
                let amount = (1000 + i).to_string();
                cbdc(&[
                    "issue",
                    "--ledger",
                    &base,
                    "--key",
                    &key,
                    "propose",
                    "--bank",
                    "demo-bank",
                    "--amount",
                    &amount,
                ])
            })
        })
        .collect();
    let failures: Vec<String> = runs
        .into_iter()
        .map(|run| run.join().unwrap())
        .filter(|out| !out.status.success())
        .map(|out| text(&out.stderr))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 24 failed: {failures:?}",
        failures.len()
    );
    let (_, stderr) = devnet.output();
    assert!(!stderr.contains("internal error"), "{stderr}");
}
