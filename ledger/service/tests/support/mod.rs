//! Test harness for the ledger's store: a fresh database per test, on real
//! PostgreSQL (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`)
//! or on a SQLite file in a temporary directory, plus builders of verified-looking
//! transactions (the store does not check cryptography, so bytes suffice).

#![allow(dead_code)] // Each test binary uses its own part of the harness.

pub mod http;
pub mod net;
pub mod pg_instance;

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use ledger_service::store::{
    BlockDraft, Bytes32, NewNote, NewTransaction, SealedBlock, Store, TxKind,
};

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test and is dropped after it.
pub enum TestDatabase {
    /// `CREATE DATABASE cbdc_test_<random>` on the server of `DATABASE_URL`.
    Postgres {
        /// URL of the server's maintenance database, used to create and drop.
        admin_url: String,
        /// The test database's name.
        name: String,
        /// URL of the test database.
        url: String,
    },
    /// A SQLite file in a temporary directory, removed with it.
    Sqlite {
        /// Holds the directory alive.
        dir: tempfile::TempDir,
        /// Path of the database file.
        url: String,
    },
}

impl TestDatabase {
    /// A fresh, empty PostgreSQL database.
    pub fn postgres() -> TestDatabase {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let name = format!("cbdc_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at DATABASE_URL: {error}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        TestDatabase::Postgres {
            admin_url,
            name,
            url,
        }
    }

    /// A fresh SQLite database file.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = dir
            .path()
            .join("ledger.sqlite")
            .to_str()
            .expect("utf-8 temporary path")
            .to_owned();
        TestDatabase::Sqlite { dir, url }
    }

    /// The URL to open the store with.
    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Postgres { url, .. } | TestDatabase::Sqlite { url, .. } => url,
        }
    }

    /// Opens (and migrates) the store.
    pub fn open(&self) -> Store {
        Store::open(self.url()).expect("open store")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres {
            admin_url, name, ..
        } = self
        {
            // FORCE ends connections a leaked pool may still hold.
            let dropped = PgConnection::establish(admin_url).and_then(|mut admin| {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))
            });
            if let Err(error) = dropped {
                eprintln!("could not drop test database {name}: {error}");
            }
        }
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// A 32-byte id: `tag` and `n` spelled out, last byte zero (see [`note_id`]).
pub fn id(tag: u8, n: u64) -> Bytes32 {
    let mut id = [0u8; 32];
    id[0] = tag;
    id[1..9].copy_from_slice(&n.to_be_bytes());
    id
}

/// The id of output `index` of transaction `tx`: distinct for distinct
/// (tx, index) as long as transaction ids end in a zero byte, as [`id`]'s do.
pub fn note_id(tx: &Bytes32, index: u8) -> Bytes32 {
    let mut id = *tx;
    id[31] = index + 1;
    id
}

/// An owner key.
pub fn owner(n: u64) -> Bytes32 {
    id(0x0a, n)
}

fn outputs(tx_id: &Bytes32, owners: &[Bytes32]) -> Vec<NewNote> {
    owners
        .iter()
        .enumerate()
        .map(|(index, owner)| {
            let index = u8::try_from(index).expect("few outputs");
            NewNote {
                id: note_id(tx_id, index),
                owner: *owner,
                commitment: id(0xc0, u64::from(index) + 1),
                memo: vec![index; 3],
            }
        })
        .collect()
}

/// An issue of `amount` to `owners` (one note each).
pub fn issue(n: u64, amount: u64, owners: &[Bytes32]) -> NewTransaction {
    let tx_id = id(0x01, n);
    NewTransaction {
        id: tx_id,
        kind: TxKind::Issue,
        encoded: format!("issue {n}").into_bytes(),
        inputs: Vec::new(),
        outputs: outputs(&tx_id, owners),
        kernel_excess: None,
        issued: Some((amount, id(0xb1, n))),
        burned: None,
        executes_proposal: None,
        governance: None,
    }
}

/// A transfer spending `inputs` into one note for each of `owners`.
pub fn transfer(n: u64, inputs: &[Bytes32], owners: &[Bytes32]) -> NewTransaction {
    let tx_id = id(0x02, n);
    NewTransaction {
        id: tx_id,
        kind: TxKind::Transfer,
        encoded: format!("transfer {n}").into_bytes(),
        inputs: inputs.to_vec(),
        outputs: outputs(&tx_id, owners),
        kernel_excess: Some(id(0xe0, n)),
        issued: None,
        burned: None,
        executes_proposal: None,
        governance: None,
    }
}

/// A redeem spending `inputs`, burning `burned`, change to `owners`.
pub fn redeem(n: u64, inputs: &[Bytes32], burned: u64, owners: &[Bytes32]) -> NewTransaction {
    let tx_id = id(0x03, n);
    NewTransaction {
        id: tx_id,
        kind: TxKind::Redeem,
        encoded: format!("redeem {n}").into_bytes(),
        inputs: inputs.to_vec(),
        outputs: outputs(&tx_id, owners),
        kernel_excess: Some(id(0xe1, n)),
        issued: None,
        burned: Some(burned),
        executes_proposal: None,
        governance: None,
    }
}

/// The block a sealer would produce: the header records the draft, the hash
/// is derived from the height so it is unique, the signature is a marker.
pub fn seal(draft: BlockDraft) -> SealedBlock {
    let mut header = draft.height.to_be_bytes().to_vec();
    header.extend_from_slice(&draft.prev_hash);
    let mut merkle_root = [0u8; 32];
    for tx in &draft.transaction_ids {
        header.extend_from_slice(tx);
        for (root, byte) in merkle_root.iter_mut().zip(tx) {
            *root ^= byte;
        }
    }
    SealedBlock {
        header,
        hash: id(0xbb, draft.height),
        merkle_root,
        time_unix_ms: 1_700_000_000_000 + draft.height,
        signature: b"signed".to_vec(),
    }
}

/// A sealer that must not be called.
pub fn no_seal(draft: BlockDraft) -> SealedBlock {
    panic!("nothing was accepted, yet the block {draft:?} was sealed")
}

/// Generates one test per backend from `fn name(db: &TestDatabase)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[test] fn $name() { super::$name(&$crate::support::TestDatabase::postgres()) })*
        }
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::support::TestDatabase::sqlite()) })*
        }
    };
}
