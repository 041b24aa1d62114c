//! Requests with full control over every byte, for the tests that hold the
//! API to its contract from outside: signed or not, any method, path, body
//! and content type (or none), the answer kept whole (status, headers, body);
//! raw TCP for requests no HTTP client would send; and a collector of
//! mismatches, so one run lists every way the ledger strays instead of the
//! first.
//!
//! Every request has a deadline ([`REQUEST_TIMEOUT`]): a hang is a failure
//! with a message, never a stuck test.

use ledger_core::SecretKey;
use ledger_service::auth::sign_request;
use ledger_service::ledger::now_ms;
use rand::rngs::OsRng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any single HTTP request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer as it came over the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The error code of a JSON error body, or `None`.
    pub fn code(&self) -> Option<String> {
        self.json()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
    }

    /// The media type, lowercased, without parameters (`""` if none).
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// A header's value (`""` if absent or not text).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    /// Status and (shortened) body, for messages.
    pub fn describe(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(300).collect();
        format!("{} {text}", self.status)
    }
}

/// A request to send.
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: Vec<u8>,
    /// `None`: no content-type header at all.
    pub content_type: Option<&'a str>,
    /// `None`: not signed.
    pub key: Option<&'a SecretKey>,
    /// Headers set after signing (replacing a signed one of the same name).
    pub headers: Vec<(&'static str, HeaderValue)>,
}

impl<'a> Req<'a> {
    /// An unsigned request with no body and no content type.
    pub fn new(method: &'a str, path: &'a str) -> Req<'a> {
        Req {
            method,
            path,
            body: Vec::new(),
            content_type: None,
            key: None,
            headers: Vec::new(),
        }
    }

    pub fn signed(mut self, key: &'a SecretKey) -> Req<'a> {
        self.key = Some(key);
        self
    }

    pub fn body(mut self, content_type: Option<&'a str>, body: impl Into<Vec<u8>>) -> Req<'a> {
        self.content_type = content_type;
        self.body = body.into();
        self
    }

    pub fn json(self, value: &Value) -> Req<'a> {
        self.body(
            Some("application/json"),
            serde_json::to_vec(value).expect("JSON values serialise"),
        )
    }

    pub fn header(mut self, name: &'static str, value: HeaderValue) -> Req<'a> {
        self.headers.push((name, value));
        self
    }
}

/// An HTTP client bound to one ledger (one per test: a client's pooled
/// connections belong to the runtime that made them).
pub struct Http {
    pub base: String,
    client: reqwest::Client,
}

impl Http {
    /// Follows no redirects: the tests see what the ledger answers.
    pub fn new(base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a reqwest client"),
        }
    }

    /// Sends `req`, signing it over exactly the path and body sent.
    pub async fn send(&self, req: Req<'_>) -> Answer {
        let method = Method::from_bytes(req.method.as_bytes()).expect("a method");
        let mut headers = HeaderMap::new();
        if let Some(key) = req.key {
            for (name, value) in
                sign_request(key, req.method, req.path, &req.body, now_ms(), &mut OsRng)
            {
                headers.insert(name, HeaderValue::from_str(&value).expect("ASCII"));
            }
        }
        if let Some(content_type) = req.content_type {
            headers.insert(
                "content-type",
                HeaderValue::from_str(content_type).expect("a header value"),
            );
        }
        for (name, value) in req.headers {
            headers.insert(HeaderName::from_static(name), value);
        }
        let url = format!("{}{}", self.base, req.path);
        let sent = self
            .client
            .request(method, &url)
            .headers(headers)
            .body(req.body)
            .send()
            .await;
        let response = sent.unwrap_or_else(|e| panic!("{} {}: no answer: {e}", req.method, url));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{} {}: body cut: {e}", req.method, url))
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `GET path`, unsigned.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Req::new("GET", path)).await
    }
}

/// Every mismatch a test found; [`Mismatches::finish`] fails the test with all of them.
#[derive(Default)]
pub struct Mismatches {
    found: Vec<String>,
    checked: usize,
}

impl Mismatches {
    pub fn new() -> Mismatches {
        Mismatches::default()
    }

    /// Records a failure unless `ok`.
    pub fn expect(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.found.push(what());
        }
    }

    /// The answer is `status` with a JSON `{code, message}` whose code is one of `codes`.
    pub fn refused(&mut self, case: &str, answer: &Answer, status: u16, codes: &[&str]) {
        let code = answer.code();
        let message_ok = answer
            .json()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|m| !m.is_empty());
        self.expect(
            answer.status == status
                && code.as_deref().is_some_and(|c| codes.contains(&c))
                && message_ok,
            || {
                format!(
                    "{case}: expected {status} {codes:?} with a message, got {}",
                    answer.describe()
                )
            },
        );
    }

    /// The answer has this status.
    pub fn status(&mut self, case: &str, answer: &Answer, status: u16) {
        self.expect(answer.status == status, || {
            format!("{case}: expected {status}, got {}", answer.describe())
        });
    }

    /// Fails the test listing every mismatch.
    pub fn finish(self, test: &str) {
        if !self.found.is_empty() {
            panic!(
                "{test}: {} of {} checks failed:\n  - {}",
                self.found.len(),
                self.checked,
                self.found.join("\n  - ")
            );
        }
        println!("{test}: all {} checks passed", self.checked);
    }
}

/// What a raw connection saw: the bytes the server sent and whether (and
/// when) it closed the connection.
#[derive(Debug)]
pub struct RawOutcome {
    pub received: Vec<u8>,
    /// Time from the end of what was sent to the server's close, if it closed in time.
    pub closed_after: Option<Duration>,
}

impl RawOutcome {
    /// The status of the first answer, if one came.
    pub fn status(&self) -> Option<u16> {
        let text = std::str::from_utf8(&self.received).ok()?;
        let line = text.lines().next()?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The first answer's body as JSON (content-length or chunked).
    pub fn json(&self) -> Option<Value> {
        let split = self.received.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.received[..split]).to_ascii_lowercase();
        let rest = &self.received[split + 4..];
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(rest)?
        } else {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))?
                .trim()
                .parse()
                .ok()?;
            rest.get(..length)?.to_vec()
        };
        serde_json::from_slice(&body).ok()
    }
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
    None
}

/// Opens a connection to `base` (`http://host:port`) and writes `bytes`.
pub async fn raw_connect(base: &str, bytes: &[u8]) -> TcpStream {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| panic!("connect to {address}: {e}"));
    stream.write_all(bytes).await.expect("write the request");
    stream.flush().await.expect("flush");
    stream
}

/// Reads until the server closes the connection or `deadline` passes.
pub async fn raw_wait_close(
    mut stream: TcpStream,
    sent_at: Instant,
    deadline: Instant,
) -> RawOutcome {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return RawOutcome {
                received,
                closed_after: None,
            };
        }
        match tokio::time::timeout(deadline - now, stream.read(&mut buffer)).await {
            Err(_) => {
                return RawOutcome {
                    received,
                    closed_after: None,
                }
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                return RawOutcome {
                    received,
                    closed_after: Some(sent_at.elapsed()),
                }
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
        if received.len() > 1 << 20 {
            panic!("the server sent more than 1 MiB on a raw connection");
        }
    }
}

/// The head of a signed request, as raw text ending in the blank line: the
/// signature covers `intended_body` (which the test may never send whole).
pub fn raw_signed_head(
    key: &SecretKey,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    intended_body: &[u8],
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in sign_request(key, method, path, intended_body, now_ms(), &mut OsRng) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}
