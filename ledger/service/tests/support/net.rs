//! A ledger served over real HTTP on a fresh PostgreSQL database, with three
//! officers in its genesis (threshold 2) and one admitted bank, for the tests
//! that drive the API.

use super::TestDatabase;
use ledger_core::governance::Role;
use ledger_core::{Amount, OwnedNote, Receipt, SecretKey, Transaction, WalletKeys};
use ledger_service::client::LedgerClient;
use ledger_service::ledger::{GenesisConfig, Ledger, LedgerConfig};
use ledger_service::metrics::Metrics;
use rand::rngs::OsRng;
use serde_json::Value;
use std::net::TcpListener;
use std::sync::Arc;

pub const THRESHOLD: usize = 2;

pub struct Node {
    ledger: Arc<Ledger>,
    base: String,
    handle: actix_web::dev::ServerHandle,
}

/// Fields drop in order: the server and its connection pool go before the database.
pub struct Net {
    pub node: Option<Node>,
    pub queue_depth_max: usize,
    /// The supply ceiling the genesis fixes.
    pub supply_ceiling: u64,
    pub block_key: SecretKey,
    pub officers: Vec<SecretKey>,
    pub bank: WalletKeys,
    pub db: TestDatabase,
}

impl Drop for Net {
    fn drop(&mut self) {
        // Stop the HTTP workers (they hold the ledger and its pool) before the
        // database is dropped under them.
        if let Some(node) = self.node.take() {
            let handle = node.handle.clone();
            drop(node);
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(handle.stop(true))
            });
        }
    }
}

impl Net {
    /// A fresh database, a ledger serving it, three officers and one admitted bank.
    pub async fn start() -> Net {
        Net::start_with(4096).await
    }

    /// As [`Net::start`], with this supply ceiling fixed at genesis.
    pub async fn start_with_ceiling(supply_ceiling: u64) -> Net {
        Net::start_full(4096, supply_ceiling).await
    }

    /// As [`Net::start`], with the ledger's queues limited to `queue_depth_max`.
    pub async fn start_with(queue_depth_max: usize) -> Net {
        Net::start_full(
            queue_depth_max,
            ledger_service::ledger::SUPPLY_CEILING_DEFAULT,
        )
        .await
    }

    pub async fn start_full(queue_depth_max: usize, supply_ceiling: u64) -> Net {
        Net::start_on(TestDatabase::postgres(), queue_depth_max, supply_ceiling).await
    }

    /// As [`Net::start_full`], on the database `db`.
    pub async fn start_on(db: TestDatabase, queue_depth_max: usize, supply_ceiling: u64) -> Net {
        let mut net = Net {
            node: None,
            queue_depth_max,
            supply_ceiling,
            block_key: SecretKey::generate(&mut OsRng),
            officers: (0..3).map(|_| SecretKey::generate(&mut OsRng)).collect(),
            bank: WalletKeys::generate(&mut OsRng),
            db,
        };
        net.boot();
        net.officer(0)
            .admit(
                "bank-a",
                "Bank A",
                Role::Bank,
                &net.bank.spend.public_key(),
                Some(&net.bank.view.public_key()),
                &[],
            )
            .await
            .unwrap();
        net
    }

    /// The genesis this net's ledger is founded with.
    pub fn genesis(&self) -> GenesisConfig {
        GenesisConfig {
            officers: self
                .officers
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        format!("officer-{i}"),
                        format!("Officer {i}"),
                        k.public_key(),
                    )
                })
                .collect(),
            threshold: THRESHOLD,
            supply_ceiling: Amount::new(self.supply_ceiling),
        }
    }

    pub fn boot(&mut self) {
        let ledger = Ledger::open(
            LedgerConfig {
                database_url: self.db.url().to_string(),
                block_key: self.block_key.clone(),
                genesis: self.genesis(),
                batch_max: 64,
                queue_depth_max: self.queue_depth_max,
                verifiers: 2,
                audit_every_blocks: 0,
            },
            Metrics::new(),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = ledger_service::server::serve(ledger.clone(), listener, 2).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        self.node = Some(Node {
            ledger,
            base,
            handle,
        });
    }

    pub async fn restart(&mut self) {
        let node = self.node.take().unwrap();
        node.handle.stop(true).await;
        drop(node);
        self.boot();
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.node.as_ref().unwrap().ledger
    }

    pub fn base(&self) -> &str {
        &self.node.as_ref().unwrap().base
    }

    pub fn officer(&self, i: usize) -> LedgerClient {
        LedgerClient::new(self.base(), self.officers[i].clone())
    }

    pub fn bank_client(&self) -> LedgerClient {
        LedgerClient::new(self.base(), self.bank.spend.clone())
    }

    /// Issues `amount` to bank-a through two officers; returns the bank's notes.
    pub async fn issue(&self, amount: u64) -> (Receipt, Vec<OwnedNote>) {
        let proposal = self
            .officer(0)
            .propose("bank-a", Amount::new(amount))
            .await
            .unwrap();
        let id = proposal["id"].as_str().unwrap().to_string();
        let first = self.officer(0).approve(&id).await.unwrap();
        assert_eq!(first["state"], "open");
        let done = self.officer(1).approve(&id).await.unwrap();
        assert_eq!(done["state"], "executed");
        let receipt: Receipt = serde_json::from_value(done["receipt"].clone()).unwrap();
        receipt.verify(&self.block_key.public_key()).unwrap();
        let issue: ledger_core::Issue = serde_json::from_value(done["issue"].clone()).unwrap();
        let mut issue = issue;
        let tx = self
            .bank_client()
            .transaction(&receipt.tx_id)
            .await
            .unwrap();
        let Transaction::Issue(stored) =
            serde_json::from_value::<Transaction>(tx["transaction"].clone()).unwrap()
        else {
            panic!("not an issue");
        };
        issue.officer_signatures = stored.officer_signatures;
        (receipt, issue.owned_notes())
    }

    /// Runs a full audit to the end over the API; it must pass. Returns what
    /// it proved (totals as numbers, the run's id and times left out, so two
    /// reports of the same journal compare equal).
    pub async fn audit_ok(&self) -> Value {
        // Officer 2 is never suspended by any test.
        let audit = self.officer(2).audit().await.unwrap();
        assert_eq!(audit["state"], "passed", "{audit}");
        let total = |field: &str| -> u64 {
            audit[field]
                .as_str()
                .and_then(|text| text.parse().ok())
                .unwrap_or_else(|| panic!("{field} is a decimal string: {audit}"))
        };
        serde_json::json!({
            "blocks": audit["blocks"],
            "transactions": audit["transactions"],
            "unspent_notes": audit["unspent_notes"],
            "height": audit["height"],
            "block_hash": audit["block_hash"],
            "issued": total("issued"),
            "redeemed": total("redeemed"),
            "outstanding": audit["outstanding"],
        })
    }
}
