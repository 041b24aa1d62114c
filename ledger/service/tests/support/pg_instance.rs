//! A private PostgreSQL 15 server for one test, which the test may stop and
//! start under a running ledger (the machine's shared server on port 5432 is
//! never touched).
//!
//! Its data directory, log and unix socket live in one temporary directory
//! owned by `postgres`; it listens on 127.0.0.1 on a port of its own, so the
//! ledger reaches it over TCP (where connect timeouts and keepalives apply);
//! `fsync` stays on. PostgreSQL refuses to run as root, so when the tests run
//! as root every server command runs as `postgres` through `runuser`.
//! Dropping the instance stops the server and removes the directory, also
//! when the test panicked.

use super::TestDatabase;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Where the server binaries are: `CBDC_PG_BIN` if set, else the newest of
/// Debian's `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CBDC_PG_BIN") {
        return PathBuf::from(dir);
    }
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max();
    if let Some((_, bin)) = debian {
        return bin;
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_pg_config.unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl): install the server or set CBDC_PG_BIN"
        )
    })
}
/// The longest `pg_ctl` waits for a start or a stop, in seconds.
const PG_CTL_WAIT_SECONDS: u32 = 60;
/// Ports tried before giving up (another process may take a free port
/// between the probe and the server's bind).
const START_ATTEMPTS_MAX: usize = 3;

pub struct PgInstance {
    /// Owned by `postgres`; removed with the instance.
    dir: tempfile::TempDir,
    port: u16,
    running: bool,
}

impl PgInstance {
    /// `initdb` and start a server; panics with the server's log if it cannot.
    pub fn start() -> PgInstance {
        let dir = tempfile::Builder::new()
            .prefix("cbdc-pg-")
            .tempdir()
            .expect("a temporary directory");
        if running_as_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let mut instance = PgInstance {
            dir,
            port: 0,
            running: false,
        };
        let data = instance.data();
        instance.server("initdb", |command| {
            command
                .arg("--pgdata")
                .arg(&data)
                .args(["--username", "postgres", "--auth", "trust"])
                .args(["--encoding", "UTF8", "--locale", "C"]);
        });
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS_MAX {
            instance.port = free_port();
            instance.configure();
            match instance.pg_ctl_start() {
                Ok(()) => return instance,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("the test's PostgreSQL did not start: {last_failure}");
    }

    /// The server's maintenance database, over TCP.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fresh database on this server, dropped with the returned value.
    pub fn database(&self) -> TestDatabase {
        let admin_url = self.admin_url();
        let name = format!("cbdc_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::establish(&admin_url).expect("connect to the test server");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        TestDatabase::Postgres {
            url: format!("postgres://postgres@127.0.0.1:{}/{name}", self.port),
            admin_url,
            name,
        }
    }

    /// Stops the server at once, as a crash would: no checkpoint, every
    /// connection cut (the next start runs crash recovery).
    pub fn stop_immediately(&mut self) {
        let output = self.pg_ctl(&["stop", "-m", "immediate"]);
        assert!(
            output.status.success(),
            "pg_ctl stop: {}",
            describe(&output)
        );
        self.running = false;
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&mut self) {
        if let Err(failure) = self.pg_ctl_start() {
            panic!("the test's PostgreSQL did not start again: {failure}");
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn configure(&self) {
        let settings = format!(
            "\n# cbdc test instance\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket}'\nfsync = on\nmax_connections = 50\n\
             shared_buffers = 32MB\n",
            port = self.port,
            socket = self.dir.path().display(),
        );
        let conf = self.data().join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.auto.conf");
        if let Some(start) = text.find("\n# cbdc test instance\n") {
            text.truncate(start);
        }
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.auto.conf");
    }

    fn pg_ctl_start(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("server.log");
        let output = self.pg_ctl(&["start", "--log", log.to_str().expect("utf-8 path")]);
        if output.status.success() {
            self.running = true;
            Ok(())
        } else {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            Err(format!("{}\nserver log:\n{log}", describe(&output)))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let wait = PG_CTL_WAIT_SECONDS.to_string();
        let data = self.data();
        self.server_output("pg_ctl", |command| {
            command
                .arg("--pgdata")
                .arg(&data)
                .args(["--wait", "--timeout", &wait])
                .args(args);
        })
    }

    fn server(&self, program: &str, args: impl FnOnce(&mut Command)) {
        let output = self.server_output(program, args);
        assert!(output.status.success(), "{program}: {}", describe(&output));
    }

    /// Runs a server program as `postgres` (directly when not root), in the
    /// instance's directory (the user may not read the caller's).
    fn server_output(&self, program: &str, args: impl FnOnce(&mut Command)) -> Output {
        let path = bin_dir().join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.current_dir(self.dir.path());
        args(&mut command);
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }
}

impl Drop for PgInstance {
    fn drop(&mut self) {
        if self.running {
            let output = self.pg_ctl(&["stop", "-m", "immediate"]);
            if !output.status.success() {
                eprintln!(
                    "could not stop the test's PostgreSQL: {}",
                    describe(&output)
                );
            }
        }
        // The temporary directory removes itself (root may remove
        // postgres's files; a non-root caller owns them).
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    listener.local_addr().expect("probe address").port()
}

fn run(command: &mut Command) {
    let output = command.output().expect("run a command");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        describe(&output)
    );
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
