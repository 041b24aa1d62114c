//! The client against a stub ledger: a TCP server that reads one request and
//! replies as told. The answers under `answers/` are what a real ledger
//! (`cbdc devnet`) sent, byte for byte, so the typed methods are tested on the
//! ledger's real JSON; the other replies — refusal, silence, an answer cut
//! short, a busy proxy — are the failures `is_retryable` sorts.

use ledger_client::sign::{
    request_message, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use ledger_client::wire::{EventKindView, LedgerInfo, TransactionView};
use ledger_client::{ClientError, LedgerClient};
use ledger_core::{PublicKey, Purpose, SecretKey, Signature};
use rand::rngs::OsRng;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const LEDGER: &str = include_str!("answers/ledger.json");
const BLOCK_LATEST: &str = include_str!("answers/block_latest.json");
const EVENTS: &str = include_str!("answers/events.json");
const TRANSACTION: &str = include_str!("answers/transaction.json");
const COMMITTED: &str = include_str!("answers/committed.json");
/// What the ledger answers `/v1/blocks/latest` while its journal is empty
/// (`api::latest_block`).
const NO_BLOCKS: &str = r#"{"code":"no_blocks","message":"the journal is empty"}"#;

/// A short timeout, so that the tests that wait for it are quick.
const SHORT: Duration = Duration::from_millis(300);

/// What the stub read: the request line and headers, and the body.
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no header {name}"))
    }

    /// The request carries a signature, by `key`, over exactly what was sent.
    fn assert_signed_by(&self, key: &PublicKey) {
        assert_eq!(self.header(HEADER_KEY), hex::encode(key.as_bytes()));
        let timestamp: u64 = self.header(HEADER_TIMESTAMP).parse().unwrap();
        let mut nonce = [0u8; 16];
        hex::decode_to_slice(self.header(HEADER_NONCE), &mut nonce).unwrap();
        let mut signature = [0u8; 64];
        hex::decode_to_slice(self.header(HEADER_SIGNATURE), &mut signature).unwrap();
        let message = request_message(&self.method, &self.target, &self.body, timestamp, &nonce);
        key.verify(
            Purpose::Request,
            &message,
            &Signature::from_bytes(&signature).unwrap(),
        )
        .expect("the request signature verifies over what was sent");
    }
}

enum Reply {
    /// A whole answer.
    Answer { status: u16, body: &'static str },
    /// Nothing, the connection held open.
    Silence,
    /// The head and part of the body, then nothing, the connection held open.
    Stall,
    /// The head and part of the body, then the connection closed.
    BreakOff,
}

async fn read_request(stream: &mut TcpStream) -> Seen {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before sending its request");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let target = request_line.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        body.extend_from_slice(&chunk[..n]);
    }
    Seen {
        method,
        target,
        headers,
        body,
    }
}

/// A stub ledger that serves one request: its base URL, and what it read.
async fn stub(reply: Reply) -> (String, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let seen = read_request(&mut stream).await;
        let partial = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                       content-length: 1000\r\n\r\n{\"ledger_key\":";
        match reply {
            Reply::Answer { status, body } => {
                let answer = format!(
                    "HTTP/1.1 {status} Stub\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
            Reply::Silence => tokio::time::sleep(Duration::from_secs(30)).await,
            Reply::Stall => {
                stream.write_all(partial.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Reply::BreakOff => stream.write_all(partial.as_bytes()).await.unwrap(),
        }
        seen
    });
    (base, served)
}

async fn answering(status: u16, body: &'static str) -> (LedgerClient, JoinHandle<Seen>) {
    let (base, served) = stub(Reply::Answer { status, body }).await;
    (
        LedgerClient::new(&base, SecretKey::generate(&mut OsRng)),
        served,
    )
}

fn ledger_key() -> PublicKey {
    let info: LedgerInfo = serde_json::from_str(LEDGER).unwrap();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(info.ledger_key, &mut bytes).unwrap();
    PublicKey::from_bytes(&bytes).unwrap()
}

#[tokio::test]
async fn info_decodes_the_ledgers_answer_to_a_signed_get() {
    let (client, served) = answering(200, LEDGER).await;
    let info = client.info().await.unwrap();
    assert_eq!(info.threshold, 2);
    assert_eq!(info.governance_sequence, 2);
    assert_eq!(info.supply_ceiling, 1_000_000_000_000_000);
    assert!(info.genesis_hash.is_some());
    let seen = served.await.unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("GET", "/v1/ledger")
    );
    seen.assert_signed_by(&client.public_key());
}

#[tokio::test]
async fn a_committed_answer_is_a_receipt_signed_by_the_ledger() {
    let view: TransactionView = serde_json::from_str(TRANSACTION).unwrap();
    let (client, served) = answering(200, COMMITTED).await;
    let committed = client.submit_committed(&view.transaction).await.unwrap();
    assert_eq!(committed.tx_id, view.tx_id);
    assert_eq!(committed.receipt, view.receipt);
    committed.receipt.verify(&ledger_key()).unwrap();
    let seen = served.await.unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("POST", "/v1/transactions")
    );
    assert_eq!(seen.header("content-type"), "application/octet-stream");
    assert_eq!(seen.body, view.transaction.encode());
    seen.assert_signed_by(&client.public_key());
}

#[tokio::test]
async fn a_transaction_view_holds_the_transaction_its_id_names() {
    let (client, served) = answering(200, TRANSACTION).await;
    let id: TransactionView = serde_json::from_str(TRANSACTION).unwrap();
    let view = client.transaction_view(&id.tx_id).await.unwrap();
    assert_eq!(view.transaction.id(), view.tx_id);
    view.receipt.verify(&ledger_key()).unwrap();
    assert_eq!(view.receipt.tx_id, view.tx_id);
    let seen = served.await.unwrap();
    assert_eq!(seen.target, format!("/v1/transactions/{}", view.tx_id));
}

#[tokio::test]
async fn the_latest_block_and_an_events_page_decode() {
    let (client, _) = answering(200, BLOCK_LATEST).await;
    let block = client.latest_block().await.unwrap().expect("a block");
    assert_eq!(block.height, 3);
    assert_eq!(block.header.height, 3);
    assert_eq!(block.transactions, None, "ids only by height");

    let (client, served) = answering(200, EVENTS).await;
    let owner = SecretKey::generate(&mut OsRng).public_key();
    let page = client
        .events_page(0, Some(&owner), Some(2), 0)
        .await
        .unwrap();
    let kinds: Vec<_> = page.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKindView::Created, EventKindView::Spent]);
    assert_eq!(page.next, page.events[1].seq);
    let seen = served.await.unwrap();
    assert_eq!(
        seen.target,
        format!(
            "/v1/events?after=0&wait_ms=0&limit=2&owner={}",
            hex::encode(owner.as_bytes())
        )
    );
}

#[tokio::test]
async fn latest_block_is_none_while_the_journal_is_empty() {
    let (client, _) = answering(404, NO_BLOCKS).await;
    assert!(client.latest_block().await.unwrap().is_none());
    // Any other 404 is an error, as is a missing block by height.
    let (client, _) = answering(404, r#"{"code":"unknown_block","message":"no"}"#).await;
    let error = client.block(7).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.code(), Some("unknown_block"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn overload_and_gateway_answers_are_retryable_and_refusals_are_not() {
    for status in [429, 502, 503, 504] {
        let (client, _) = answering(status, r#"{"code":"busy","message":"later"}"#).await;
        let error = client.info().await.unwrap_err();
        assert_eq!(error.status(), Some(status));
        assert!(error.is_retryable(), "{status}");
    }
    // A proxy's page instead of the ledger's JSON: still the status that counts.
    let (client, _) = answering(502, "<html>Bad Gateway</html>").await;
    let error = client.info().await.unwrap_err();
    assert_eq!(error.code(), Some("unknown"));
    assert!(error.is_retryable());
    for status in [400, 401, 403, 404, 409, 413, 422, 500] {
        let (client, _) = answering(status, r#"{"code":"no","message":"no"}"#).await;
        let error = client.info().await.unwrap_err();
        assert_eq!(error.status(), Some(status));
        assert!(!error.is_retryable(), "{status}");
    }
}

#[tokio::test]
async fn an_answer_that_does_not_decode_is_not_retryable() {
    // A ledger answer, but not the one asked for: a block is no LedgerInfo.
    let (client, _) = answering(200, BLOCK_LATEST).await;
    let error = client.info().await.unwrap_err();
    assert!(matches!(error, ClientError::Decode(_)), "{error}");
    assert_eq!(error.status(), None);
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = LedgerClient::new(&base, SecretKey::generate(&mut OsRng));
    let error = client.info().await.unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.status(), None);
    assert_eq!(
        error.to_string(),
        format!("cannot reach the ledger at {base}/v1/ledger: connection refused")
    );
}

#[tokio::test]
async fn silence_times_out_at_the_clients_timeout_and_says_so() {
    let (base, _) = stub(Reply::Silence).await;
    let client = LedgerClient::with_timeout(&base, SecretKey::generate(&mut OsRng), SHORT);
    assert_eq!(client.timeout(), SHORT);
    let started = Instant::now();
    let error = client.info().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    assert!(error.is_retryable());
    // What callers (the bench) match on to count timeouts.
    assert!(matches!(&error, ClientError::Transport(e) if e.is_timeout()));
    assert_eq!(
        error.to_string(),
        format!("cannot reach the ledger at {base}/v1/ledger: timed out: no answer within 300 ms")
    );
}

#[tokio::test]
async fn an_answer_that_stalls_times_out_as_broken_off() {
    let (base, _) = stub(Reply::Stall).await;
    let client = LedgerClient::with_timeout(
        &base,
        SecretKey::generate(&mut OsRng),
        Duration::from_secs(1),
    );
    let error = client.info().await.unwrap_err();
    assert!(error.is_retryable());
    assert!(matches!(&error, ClientError::Transport(e) if e.is_timeout()));
    assert_eq!(
        error.to_string(),
        format!(
            "the answer broke off from the ledger at {base}/v1/ledger: timed out: no answer \
             within 1 s"
        )
    );
}

#[tokio::test]
async fn an_answer_broken_off_is_retryable() {
    let (base, _) = stub(Reply::BreakOff).await;
    let client = LedgerClient::new(&base, SecretKey::generate(&mut OsRng));
    let error = client.info().await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(matches!(&error, ClientError::Transport(e) if !e.is_timeout()));
    assert!(
        error.to_string().starts_with(&format!(
            "the answer broke off from the ledger at {base}/v1/ledger: "
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_request_that_cannot_be_built_is_not_retryable() {
    let client = LedgerClient::new("not a url", SecretKey::generate(&mut OsRng));
    let error = client.info().await.unwrap_err();
    assert!(matches!(&error, ClientError::Transport(e) if e.is_builder()));
    assert!(!error.is_retryable());
}
