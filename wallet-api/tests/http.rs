//! The wallet API's OpenAPI document against the wallet API itself, over
//! real HTTP on PostgreSQL, with a real ledger and the real gateways of two
//! banks behind it (the gateway's harness, bank-gateway/tests/support):
//!
//! - the document is valid OpenAPI 3.1 (openapi-spec-validator) and declares
//!   the refusals every kind of route can answer;
//! - every documented operation is served and nothing else is: a documented
//!   path asked with another method is `405` with `Allow`, an unknown path
//!   `404 no_route`;
//! - the answers of a real flow (wallets at both banks, fund, payments to
//!   the same bank and the other, payment requests paid by id and by URI,
//!   QR codes, history, events, defund, revocations) validate against their
//!   response schemas (jsonschema, 2020-12);
//! - hostile input — bodies that are not JSON, of the wrong type or too
//!   large, unknown fields, amounts out of range, malformed ids, app keys
//!   and tokens, `Idempotency-Key`s, `Last-Event-ID`s, limits and query
//!   parameters — gets its documented 4xx with a JSON `code`, never a 5xx,
//!   and the service still answers afterwards.
//!
//! The validation runs in ledger/service/tests/openapi_check.py (Python:
//! `pip install openapi-spec-validator`, which brings jsonschema and
//! referencing). With `CBDC_OPENAPI_KEEP=DIR` the document and the captured
//! answers are also written to DIR.

#[path = "../../bank-gateway/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};
use support::{bank, Bank, Gateway, Ledger, Mismatches, TestDatabase};
use wallet_api::config::{BankRoute, Rate, WalletApiConfig};
use wallet_api::server::Running;

const CHECKER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ledger/service/tests/openapi_check.py"
);
/// The longest the Python checker may run.
const CHECKER_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a test waits for events on a wallet's stream.
const EVENTS_WAIT: Duration = Duration::from_secs(20);
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];
/// The bodies' limit (server.rs, `BODY_MAX`).
const BODY_MAX: usize = 16 * 1024;
/// The float each test bank is issued.
const FLOAT: u64 = 10_000_000;
/// The routes without credentials, which answer 200 to anyone.
const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];
/// Every route the wallet API registers (api.rs, `routes`), as (method,
/// path template with its parameters written `{}`): each must be documented.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/v1/banks"),
    ("post", "/v1/wallets"),
    ("get", "/v1/wallets/{}"),
    ("get", "/v1/wallets/{}/history"),
    ("post", "/v1/wallets/{}/payments"),
    ("get", "/v1/wallets/{}/payments/{}"),
    ("post", "/v1/wallets/{}/fund"),
    ("post", "/v1/wallets/{}/defund"),
    ("post", "/v1/wallets/{}/requests"),
    ("get", "/v1/wallets/{}/requests"),
    ("post", "/v1/wallets/{}/requests/{}/cancel"),
    ("get", "/v1/requests/{}"),
    ("get", "/v1/requests/{}/qr.png"),
    ("get", "/v1/requests/{}/qr.svg"),
    ("get", "/v1/wallets/{}/events"),
    ("delete", "/v1/wallets/{}/token"),
    ("post", "/v1/operator/apps"),
    ("get", "/v1/operator/apps"),
    ("post", "/v1/operator/apps/{}/revoke"),
    ("post", "/v1/operator/wallets/{}/revoke-tokens"),
];

// ---------------------------------------------------------------------------
// The wallet API under test

/// A wallet API serving a fresh PostgreSQL database. Fields drop in order:
/// the database goes last.
struct Service {
    running: Option<Running>,
    base: String,
    operator: String,
    http: reqwest::Client,
    db: std::sync::Arc<TestDatabase>,
}

fn operator_token() -> String {
    format!("operator-{:032x}", rand::random::<u128>())
}

impl Service {
    /// A wallet API in front of `banks`, configured by `tweak`, on a
    /// database of its own.
    async fn start(banks: Vec<BankRoute>, tweak: impl FnOnce(&mut WalletApiConfig)) -> Service {
        let db = std::sync::Arc::new(TestDatabase::create("wallet_api"));
        Service::start_on(db, banks, operator_token(), tweak).await
    }

    /// A wallet API on `db` (replicas share theirs).
    async fn start_on(
        db: std::sync::Arc<TestDatabase>,
        banks: Vec<BankRoute>,
        operator: String,
        tweak: impl FnOnce(&mut WalletApiConfig),
    ) -> Service {
        let mut config = WalletApiConfig::new(banks, vec![operator.clone()]);
        config.poll_interval = Duration::from_millis(100);
        config.replica = "wallet-api-http-test".into();
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the wallet API");
        let running = wallet_api::server::start(config, db.url(), listener)
            .await
            .expect("the wallet API starts");
        Service {
            base: running.base(),
            running: Some(running),
            operator,
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a reqwest client"),
            db,
        }
    }

    /// A wallet API whose banks are never asked (the document, the routes).
    async fn without_banks() -> Service {
        let bank = BankRoute {
            id: "bank-a".into(),
            name: "Bank A".into(),
            // Nothing listens there: only routes that never reach a bank are asked.
            url: "http://127.0.0.1:9".into(),
            internal_token: "never-used-internal-token".into(),
        };
        Service::start(vec![bank], |_| {}).await
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), running.stop()).await;
        }
    }

    async fn send(&self, req: Req) -> Answer {
        let url = format!("{}{}", self.base, req.path);
        let mut request = self.http.request(req.method.clone(), &url);
        for (name, value) in req.headers {
            request = request.header(name, value);
        }
        if let Some(body) = req.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {}: no answer: {e}", req.method, req.path));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{} {}: body cut: {e}", req.method, req.path));
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            bytes: bytes.to_vec(),
        }
    }

    /// `GET /openapi.json`, without credentials.
    async fn document(&self) -> Value {
        let answer = self.send(Req::new("GET", "/openapi.json")).await;
        assert_eq!(
            answer.status,
            200,
            "GET /openapi.json: {}",
            answer.describe()
        );
        assert_eq!(answer.media_type(), "application/json");
        answer.body
    }

    /// Registers an app through the operator API: its key.
    async fn app(&self, name: &str) -> (String, String) {
        let answer = self
            .send(
                Req::new("POST", "/v1/operator/apps")
                    .bearer(&self.operator)
                    .json(&json!({ "name": name })),
            )
            .await;
        assert_eq!(answer.status, 201, "register an app: {}", answer.describe());
        (
            answer.body["app_id"].as_str().expect("app_id").to_owned(),
            answer.body["app_key"].as_str().expect("app_key").to_owned(),
        )
    }

    /// Opens a wallet at `bank` through app `app_key`.
    async fn open_wallet(&self, app_key: &str, bank: &str) -> Wallet {
        let answer = self
            .send(
                Req::new("POST", "/v1/wallets")
                    .app(app_key)
                    .json(&json!({ "bank": bank, "phone": support::phone() })),
            )
            .await;
        assert_eq!(answer.status, 201, "open a wallet: {}", answer.describe());
        Wallet::of(&answer.body)
    }
}

/// One request to the wallet API.
struct Req {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn new(method: &str, path: impl Into<String>) -> Req {
        Req {
            method: Method::from_bytes(method.as_bytes()).expect("a method"),
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A header of exactly these bytes (anything `http` lets through).
    fn header(mut self, name: &str, value: &[u8]) -> Req {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        let value = HeaderValue::from_bytes(value).expect("a header value http can send");
        self.headers.push((name, value));
        self
    }

    fn app(self, key: &str) -> Req {
        self.header("x-cbdc-app-key", key.as_bytes())
    }

    fn bearer(self, token: &str) -> Req {
        self.header("authorization", format!("Bearer {token}").as_bytes())
    }

    /// The app key and the wallet's token.
    fn wallet(self, app_key: &str, wallet: &Wallet) -> Req {
        self.app(app_key).bearer(&wallet.token)
    }

    fn key(self, key: &str) -> Req {
        self.header("idempotency-key", key.as_bytes())
    }

    fn json(self, body: &Value) -> Req {
        self.raw(Some("application/json"), serde_json::to_vec(body).unwrap())
    }

    fn raw(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Req {
        if let Some(content_type) = content_type {
            self = self.header("content-type", content_type.as_bytes());
        }
        self.body = Some(body.into());
        self
    }
}

/// An answer: status, headers, and the body (JSON `null` if it is not JSON).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
    bytes: Vec<u8>,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    }

    fn media_type(&self) -> String {
        self.header("content-type")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    fn describe(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.bytes)
            .chars()
            .take(400)
            .collect();
        format!("{} {text}", self.status)
    }
}

/// A wallet as `POST /v1/wallets` answers it.
#[derive(Debug, Clone)]
struct Wallet {
    id: String,
    token: String,
    address: String,
}

impl Wallet {
    fn of(body: &Value) -> Wallet {
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in {body}"))
                .to_owned()
        };
        Wallet {
            id: field("wallet_id"),
            token: field("token"),
            address: field("address"),
        }
    }
}

/// A fresh idempotency key.
fn key() -> String {
    support::key()
}

// ---------------------------------------------------------------------------
// A ledger, two banks, and the wallet API in front of them

struct Net {
    api: Service,
    app_key: String,
    /// Kept running until the test ends.
    banks: Vec<(Bank, Gateway)>,
    ledger: Ledger,
}

impl Net {
    async fn start() -> Net {
        Net::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut WalletApiConfig)) -> Net {
        let ledger = Ledger::start().await;
        let a = bank(&ledger, "bank-a", FLOAT).await;
        let b = bank(&ledger, "bank-b", FLOAT).await;
        let routes = [("bank-a", "Bank A", &a), ("bank-b", "Bank B", &b)]
            .iter()
            .map(|(id, name, (bank, gateway))| BankRoute {
                id: id.to_string(),
                name: name.to_string(),
                url: gateway.api.base.clone(),
                internal_token: bank.internal_token.clone(),
            })
            .collect();
        let api = Service::start(routes, tweak).await;
        let (_, app_key) = api.app("http test app").await;
        Net {
            api,
            app_key,
            banks: vec![a, b],
            ledger,
        }
    }

    fn routes(&self) -> Vec<BankRoute> {
        self.banks
            .iter()
            .map(|(bank, gateway)| BankRoute {
                id: bank.id.clone(),
                name: bank.id.clone(),
                url: gateway.api.base.clone(),
                internal_token: bank.internal_token.clone(),
            })
            .collect()
    }

    fn gateway(&self, bank: &str) -> &Gateway {
        &self
            .banks
            .iter()
            .find(|(b, _)| b.id == bank)
            .expect("a bank of the net")
            .1
    }

    async fn open_wallet(&self, bank: &str) -> Wallet {
        self.api.open_wallet(&self.app_key, bank).await
    }

    /// A wallet at `bank` whose bank has linked it a deposit account holding
    /// `cash` (an operator's job at the bank).
    async fn linked_wallet(&self, bank: &str, cash: u64) -> Wallet {
        let wallet = self.open_wallet(bank).await;
        let gateway = &self.gateway(bank).api;
        let customer = gateway
            .operator(
                Method::GET,
                &format!(
                    "/v1/operator/customers/by-address?address={}",
                    wallet.address
                ),
                None,
            )
            .await
            .expect(200, "the bank finds the wallet's customer");
        let customer_id = customer["customer"]["customer_id"]
            .as_i64()
            .expect("customer_id");
        let bank_wallet = customer["wallets"][0]["wallet_id"]
            .as_i64()
            .expect("the bank's wallet id");
        let account = gateway.open_account(customer_id).await;
        gateway.cash_in(account, cash).await;
        gateway.link(bank_wallet, Some(account)).await;
        wallet
    }

    /// Waits until the payment is final at the wallet's bank: its last answer.
    async fn until_final(&self, wallet: &Wallet, payment: &Value) -> Value {
        let id = payment["payment_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("not a payment: {payment}"));
        let path = format!("/v1/wallets/{}/payments/{id}", wallet.id);
        support::eventually(&format!("payment {id} is final"), || async {
            let answer = self
                .api
                .send(Req::new("GET", &path).wallet(&self.app_key, wallet))
                .await;
            match answer.body["state"].as_str() {
                Some("final") => Ok(answer.body),
                Some("pending") => Err(answer.describe()),
                _ => panic!("payment {id} will not be final: {}", answer.describe()),
            }
        })
        .await
    }

    async fn stop(self) {
        self.api.stop().await;
        for (_, gateway) in self.banks {
            gateway.stop().await;
        }
        drop(self.ledger);
    }
}

// ---------------------------------------------------------------------------
// The document

/// Runs the checker; panics naming the pip package if a module is missing.
/// Returns (passed, everything it printed).
fn run_checker(args: &[&str]) -> (bool, String) {
    let mut child = Command::new("python3")
        .arg(CHECKER)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is needed to check the OpenAPI document: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the checker") {
            break status;
        }
        if started.elapsed() > CHECKER_TIMEOUT {
            let _ = child.kill();
            panic!("{CHECKER} {args:?} ran longer than {CHECKER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    if status.code() == Some(3) {
        panic!(
            "the OpenAPI checker needs Python packages: {err}\n\
             install them with: pip install openapi-spec-validator"
        );
    }
    (status.success(), format!("{out}{err}"))
}

/// Writes `value` into `dir` (and into `$CBDC_OPENAPI_KEEP`, if set).
fn write_temp(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(value).unwrap();
    if let Some(keep) = std::env::var_os("CBDC_OPENAPI_KEEP") {
        std::fs::write(Path::new(&keep).join(name), &bytes).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Follows local `$ref`s.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) if reference.starts_with("#/") => match doc.pointer(&reference[1..]) {
                Some(target) => node = target,
                None => return &Value::Null,
            },
            _ => return node,
        }
    }
    node
}

/// A path template with its parameters written `{}`.
fn normalized(template: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in template.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

fn path_parameter_names(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// Every (template, method, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut all = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let item = resolve(doc, item);
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                all.push((template.clone(), method.to_string(), operation));
            }
        }
    }
    all
}

/// Whether the document declares `status` for `method template`.
fn documents(doc: &Value, method: &str, template: &str, status: u16) -> bool {
    doc["paths"][template][method.to_ascii_lowercase()]["responses"]
        .get(status.to_string())
        .is_some()
}

/// The security schemes an operation needs (its first requirement).
fn security(operation: &Value) -> BTreeSet<String> {
    operation["security"][0]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

/// A value a path parameter of this name may take (well-shaped, unknown).
fn sample(name: &str) -> &'static str {
    match name {
        "wallet_id" => "w_00000000000000000000000000000000",
        "request_id" => "rq_00000000000000000000000000000000",
        "app_id" => "app_0000000000000000",
        "payment_id" => "1",
        other => panic!("no sample for path parameter {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_is_valid_openapi_3_1_and_declares_every_refusal() {
    let api = Service::without_banks().await;
    let doc = api.document().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "wallet-api.openapi.json", &doc);
    let (ok, output) = run_checker(&["spec", &file]);
    println!("{output}");
    let mut m = Mismatches::new();
    m.check(ok, || {
        format!("GET /openapi.json is not a valid OpenAPI 3.1 document:\n{output}")
    });
    for (template, method, operation) in operations(&doc) {
        let op = format!("{} {template}", method.to_uppercase());
        let responses = operation["responses"].as_object().expect("responses");
        let has = |status: &str| responses.contains_key(status);
        for (status, response) in responses {
            let response = resolve(&doc, response);
            m.check(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                || format!("{op}: response {status} has no description"),
            );
            if status.starts_with('4') || status.starts_with('5') {
                let schema = resolve(&doc, &response["content"]["application/json"]["schema"]);
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                m.check(
                    required.contains("code") && required.contains("message"),
                    || format!("{op}: error {status} is not a JSON {{code, message}}"),
                );
            }
        }
        let schemes = security(operation);
        let wanted: Vec<&str> = if !template.starts_with("/v1/") {
            m.check(schemes.is_empty(), || {
                format!("{op}: an open route needs {schemes:?}")
            });
            vec![]
        } else if template.starts_with("/v1/operator/") {
            m.equal(
                &format!("{op}: security"),
                schemes.clone(),
                BTreeSet::from(["operator".to_string()]),
            );
            vec!["401", "503"]
        } else if template.starts_with("/v1/wallets/{wallet_id}") {
            m.equal(
                &format!("{op}: security"),
                schemes.clone(),
                BTreeSet::from(["app_key".to_string(), "wallet_token".to_string()]),
            );
            // A wallet id that is not the token's (malformed or not) is 403.
            vec!["401", "403", "429", "503"]
        } else {
            m.equal(
                &format!("{op}: security"),
                schemes.clone(),
                BTreeSet::from(["app_key".to_string()]),
            );
            vec!["401", "429", "503"]
        };
        for status in wanted {
            m.check(has(status), || format!("{op} does not document {status}"));
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415"] {
                m.check(has(status), || {
                    format!("{op} takes a body but does not document {status}")
                });
            }
        }
        // A malformed id in the path: 400 (an integer), 404 (an unknown
        // id), or 403 (a wallet id that is not the token's).
        for name in path_parameter_names(&template) {
            let status = match name.as_str() {
                "payment_id" => "400",
                "wallet_id" if !template.starts_with("/v1/operator/") => "403",
                _ => "404",
            };
            m.check(has(status), || {
                format!("{op}: a malformed {name} is {status}, which it does not document")
            });
        }
        let queries: Vec<&Value> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .collect();
        if !queries.is_empty() {
            m.check(has("400"), || {
                format!("{op} takes a query but does not document 400")
            });
        }
        for query in queries {
            if query["name"] == "limit" {
                let schema = resolve(&doc, &query["schema"]);
                m.check(schema["minimum"] == 1 && schema["maximum"] == 100, || {
                    format!("{op}: limit is 1 to 100: {schema}")
                });
            }
        }
    }
    // The headers of the routes that move money and of the stream.
    for template in [
        "/v1/wallets/{wallet_id}/payments",
        "/v1/wallets/{wallet_id}/fund",
        "/v1/wallets/{wallet_id}/defund",
    ] {
        let parameters = &doc["paths"][template]["post"]["parameters"];
        let key = parameters
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        m.check(
            key.is_some_and(|k| {
                k["required"] == true
                    && k["schema"]["minLength"] == 1
                    && k["schema"]["maxLength"] == 200
            }),
            || format!("POST {template}: Idempotency-Key (required, 1 to 200): {key:?}"),
        );
    }
    m.finish("the document");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_documented_operation_is_served_and_nothing_else() {
    let api = Service::without_banks().await;
    let doc = api.document().await;
    let mut m = Mismatches::new();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .iter()
        .map(|(template, method, _)| (method.clone(), normalized(template)))
        .collect();
    let registered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, template)| (method.to_string(), template.to_string()))
        .collect();
    for route in registered.difference(&documented) {
        m.check(false, || {
            format!("{} {} is served but not documented", route.0, route.1)
        });
    }
    for route in documented.difference(&registered) {
        m.check(false, || {
            format!(
                "{} {} is documented but not in this test's list of routes",
                route.0, route.1
            )
        });
    }
    let mut methods_of: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (template, method, _) in operations(&doc) {
        methods_of
            .entry(template.clone())
            .or_default()
            .insert(method.to_uppercase());
    }
    for (template, allowed) in &methods_of {
        let mut path = template.clone();
        for name in path_parameter_names(template) {
            path = path.replace(&format!("{{{name}}}"), sample(&name));
        }
        // Every documented operation answers (without credentials: refused).
        for method in allowed {
            let answer = api.send(Req::new(method, &path)).await;
            let case = format!("{method} {path} without credentials");
            if template.starts_with("/v1/operator/") {
                m.check(
                    answer.status == 401 && answer.code() == "unauthorized",
                    || format!("{case}: 401 unauthorized, got {}", answer.describe()),
                );
            } else if template.starts_with("/v1/") {
                m.check(
                    answer.status == 401 && answer.code() == "unknown_app",
                    || format!("{case}: 401 unknown_app, got {}", answer.describe()),
                );
            } else if OPEN_ROUTES.contains(&template.as_str()) {
                m.check(answer.status == 200, || {
                    format!("{case}: 200, got {}", answer.describe())
                });
            }
        }
        // Every other method: 405, Allow naming the documented ones, JSON.
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"] {
            if allowed.contains(method) {
                continue;
            }
            let answer = api.send(Req::new(method, &path)).await;
            let allow: BTreeSet<String> = answer
                .header("allow")
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            m.check(
                answer.status == 405 && &allow == allowed && answer.code() == "method_not_allowed",
                || {
                    format!(
                        "{method} {path}: 405 with Allow {allowed:?}, got {} (Allow {allow:?})",
                        answer.describe()
                    )
                },
            );
        }
    }
    // Unknown paths: 404 no_route, no Allow.
    for path in [
        "/",
        "/v1",
        "/v1/nothing",
        "/v2/banks",
        "/v1/wallets/w_00000000000000000000000000000000/nothing",
        "/v1/wallets/w_00000000000000000000000000000000/fund/more",
        "/v1/requests/rq_00000000000000000000000000000000/qr.gif",
        "/v1/operator/apps/app_0000000000000000",
        "/v1/operator/wallets",
    ] {
        let answer = api.send(Req::new("GET", path)).await;
        m.check(
            answer.status == 404
                && answer.header("allow").is_empty()
                && answer.code() == "no_route",
            || format!("GET {path}: 404 no_route, got {}", answer.describe()),
        );
    }
    // /metrics is Prometheus text, as documented; /docs/ is the page.
    let answer = api.send(Req::new("GET", "/metrics")).await;
    m.check(
        answer.status == 200
            && answer.media_type() == "text/plain"
            && String::from_utf8_lossy(&answer.bytes).contains("# TYPE "),
        || format!("GET /metrics: Prometheus text, got {}", answer.describe()),
    );
    let answer = api.send(Req::new("GET", "/docs/")).await;
    m.check(
        answer.status == 200 && answer.media_type() == "text/html",
        || format!("GET /docs/: the page, got {}", answer.describe()),
    );
    m.finish("documented operations");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: GET /v1/banks/ (a documented path and a trailing slash) is 405 \"GET is not \
            allowed here; allowed: GET\" with Allow: GET; cbdc-http's RouteTable trims the \
            slash, actix's router does not"]
async fn a_documented_path_with_a_trailing_slash_is_no_route() {
    let api = Service::without_banks().await;
    let mut m = Mismatches::new();
    for path in [
        "/v1/banks/",
        "/healthz/",
        "/v1/wallets/w_00000000000000000000000000000000/",
    ] {
        let answer = api.send(Req::new("GET", path)).await;
        m.check(answer.status == 404 && answer.code() == "no_route", || {
            format!(
                "GET {path}: 404 no_route, got {} (Allow {:?})",
                answer.describe(),
                answer.header("allow")
            )
        });
    }
    m.finish("trailing slashes");
    api.stop().await;
}

// ---------------------------------------------------------------------------
// A real flow

/// What the wallet API answered, kept for the checker.
#[derive(Default)]
struct Captures(Vec<Value>);

impl Captures {
    fn keep(&mut self, method: &str, path: &str, answer: &Answer) {
        let body = if answer.media_type() == "application/json" {
            answer.body.clone()
        } else {
            Value::String(String::from_utf8_lossy(&answer.bytes).into_owned())
        };
        self.0.push(json!({
            "method": method,
            "path": path,
            "status": answer.status,
            "content_type": answer.header("content-type"),
            "body": body,
        }));
    }
}

/// Sends, keeps the answer, and records a mismatch unless it has `status`.
async fn step(
    api: &Service,
    captures: &mut Captures,
    m: &mut Mismatches,
    req: Req,
    status: u16,
) -> Value {
    let (method, path) = (req.method.to_string(), req.path.clone());
    let answer = api.send(req).await;
    captures.keep(&method, &path, &answer);
    m.check(answer.status == status, || {
        format!("{method} {path}: {status}, got {}", answer.describe())
    });
    answer.body
}

/// The `(id, event, data)` of the events of a wallet's stream, read until
/// `count` events have come (or [`EVENTS_WAIT`] has passed); also whether
/// the stream began with its `retry:` line.
async fn read_events(
    api: &Service,
    req: Req,
    count: usize,
) -> (u16, String, bool, Vec<(i64, String, Value)>) {
    let url = format!("{}{}", api.base, req.path);
    let mut request = api.http.get(&url).timeout(EVENTS_WAIT + EVENTS_WAIT);
    for (name, value) in req.headers {
        request = request.header(name, value);
    }
    let mut response = request.send().await.expect("the stream answers");
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < count && started.elapsed() < EVENTS_WAIT {
        let left = EVENTS_WAIT.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
        events.clear();
        for block in text.split("\n\n").filter(|b| b.contains("data: ")) {
            let line = |prefix: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .unwrap_or("")
                    .to_owned()
            };
            events.push((
                line("id: ").parse().unwrap_or(-1),
                line("event: "),
                serde_json::from_str(&line("data: ")).unwrap_or(Value::Null),
            ));
        }
    }
    (status, media, text.starts_with("retry: "), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_of_a_real_flow_match_their_schemas() {
    let net = Net::start().await;
    let api = &net.api;
    let doc = api.document().await;
    let app = net.app_key.clone();
    let mut c = Captures::default();
    let mut m = Mismatches::new();
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        step(api, &mut c, &mut m, Req::new("GET", path), 200).await;
    }
    let banks = step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/banks").app(&app),
        200,
    )
    .await;
    m.equal(
        "the banks",
        banks,
        json!([{"id": "bank-a", "name": "Bank A"}, {"id": "bank-b", "name": "Bank B"}]),
    );

    // Wallets: the payer has a linked deposit account; a payee at the same
    // bank and one at the other.
    let payer = net.linked_wallet("bank-a", 500_000).await;
    let opened = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/wallets")
            .app(&app)
            .json(&json!({"bank": "bank-a", "phone": support::phone()})),
        201,
    )
    .await;
    let payee = Wallet::of(&opened);
    m.check(
        payee.token.starts_with("wt_") && payee.id.starts_with("w_"),
        || format!("a wallet id and a token of their shapes: {opened}"),
    );
    let elsewhere = net.open_wallet("bank-b").await;
    let w = |wallet: &Wallet, rest: &str| format!("/v1/wallets/{}{rest}", wallet.id);
    let info = step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&payer, "")).wallet(&app, &payer),
        200,
    )
    .await;
    m.check(
        info["linked_account"] == true && info["balance"] == 0 && info["bank"] == "bank-a",
        || format!("the payer's wallet: linked, empty, at bank-a: {info}"),
    );

    // Money: fund, pay the same bank, pay the other, one payment, defund.
    let fund = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/fund"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"amount": 300_000})),
        200,
    )
    .await;
    net.until_final(&payer, &fund).await;
    let same_bank = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/payments"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"to": payee.address, "amount": 10_000})),
        200,
    )
    .await;
    let same_bank = net.until_final(&payer, &same_bank).await;
    m.check(same_bank["payee"] == "same_bank", || {
        format!("a payment to bank-a's wallet is same_bank: {same_bank}")
    });
    let other_bank = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/payments"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"to": elsewhere.address, "amount": 20_000})),
        200,
    )
    .await;
    let other_bank = net.until_final(&payer, &other_bank).await;
    m.check(other_bank["payee"] == "other_bank", || {
        format!("a payment to bank-b's wallet is other_bank: {other_bank}")
    });
    let id = other_bank["payment_id"].as_i64().unwrap_or(0);
    step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&payer, &format!("/payments/{id}"))).wallet(&app, &payer),
        200,
    )
    .await;
    let defund = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/defund"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"amount": 5_000})),
        200,
    )
    .await;
    net.until_final(&payer, &defund).await;

    // Payment requests: one paid by id, one by its URI, one cancelled.
    let new_request = |amount: u64, reference: &str| {
        Req::new("POST", w(&payee, "/requests"))
            .wallet(&app, &payee)
            .json(&json!({"amount": amount, "reference": reference, "expires_in_s": 600}))
    };
    let by_id = step(api, &mut c, &mut m, new_request(1_500, "coffee"), 201).await;
    let by_uri = step(api, &mut c, &mut m, new_request(2_500, "lunch & tip"), 201).await;
    let to_cancel = step(api, &mut c, &mut m, new_request(3_500, "never"), 201).await;
    let rq = |request: &Value| request["request_id"].as_str().unwrap_or("").to_owned();
    m.check(
        by_uri["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("cbdc:{}?amount=2500&ref=", payee.address))),
        || format!("the request's URI: {by_uri}"),
    );
    for rest in ["", "/qr.png", "/qr.svg"] {
        let answer = api
            .send(Req::new("GET", format!("/v1/requests/{}{rest}", rq(&by_id))).app(&app))
            .await;
        c.keep(
            "GET",
            &format!("/v1/requests/{}{rest}", rq(&by_id)),
            &answer,
        );
        m.check(answer.status == 200, || {
            format!("GET /v1/requests/…{rest}: {}", answer.describe())
        });
        if rest == "/qr.png" {
            m.check(answer.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), || {
                "qr.png is a PNG".to_owned()
            });
        }
    }
    let paid = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/payments"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"request_id": rq(&by_id)})),
        200,
    )
    .await;
    net.until_final(&payer, &paid).await;
    let paid = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/payments"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"uri": by_uri["uri"]})),
        200,
    )
    .await;
    net.until_final(&payer, &paid).await;
    step(
        api,
        &mut c,
        &mut m,
        Req::new(
            "POST",
            w(&payee, &format!("/requests/{}/cancel", rq(&to_cancel))),
        )
        .wallet(&app, &payee),
        200,
    )
    .await;
    let paid_view = support::eventually("the request paid by id is paid", || async {
        let answer = api
            .send(Req::new("GET", format!("/v1/requests/{}", rq(&by_id))).app(&app))
            .await;
        if answer.body["state"] == "paid" {
            Ok(answer)
        } else {
            Err(answer.describe())
        }
    })
    .await;
    c.keep("GET", &format!("/v1/requests/{}", rq(&by_id)), &paid_view);
    for state in ["", "?state=paid", "?state=cancelled&limit=1", "?limit=100"] {
        step(
            api,
            &mut c,
            &mut m,
            Req::new("GET", w(&payee, &format!("/requests{state}"))).wallet(&app, &payee),
            200,
        )
        .await;
    }
    let history = step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&payer, "/history?limit=2")).wallet(&app, &payer),
        200,
    )
    .await;
    if let Some(next) = history["next"].as_i64() {
        step(
            api,
            &mut c,
            &mut m,
            Req::new(
                "GET",
                w(&payer, &format!("/history?before={next}&limit=100")),
            )
            .wallet(&app, &payer),
            200,
        )
        .await;
    }
    let all = step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&payer, "/history?limit=100")).wallet(&app, &payer),
        200,
    )
    .await;
    let entries = all["entries"].as_array().cloned().unwrap_or_default();
    m.check(entries.len() >= 5, || {
        format!("the payer's history has the fund, three payments and the defund: {all}")
    });

    // Events: from the start, every entry of the history, oldest first.
    let (status, media, retry, events) = read_events(
        api,
        Req::new("GET", w(&payer, "/events"))
            .wallet(&app, &payer)
            .header("last-event-id", b"0"),
        entries.len(),
    )
    .await;
    m.check(
        status == 200 && media.starts_with("text/event-stream") && retry,
        || format!("the stream: 200 text/event-stream from `retry:`, got {status} {media}"),
    );
    let mut newest_first: Vec<Value> = events.iter().map(|(_, _, data)| data.clone()).collect();
    newest_first.reverse();
    m.equal(
        "the events are the history's entries",
        newest_first,
        entries.clone(),
    );
    for (id, kind, data) in &events {
        let credit = data["amount"].as_i64().unwrap_or(0) >= 0;
        m.check(
            Some(*id) == data["id"].as_i64() && kind == if credit { "credit" } else { "debit" },
            || format!("event {id} ({kind}): its id and kind are its entry's: {data}"),
        );
    }

    // The token, then the operator's routes.
    step(
        api,
        &mut c,
        &mut m,
        Req::new("DELETE", w(&elsewhere, "/token")).wallet(&app, &elsewhere),
        200,
    )
    .await;
    step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&elsewhere, "")).wallet(&app, &elsewhere),
        401,
    )
    .await;
    let op = api.operator.clone();
    let created = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/operator/apps")
            .bearer(&op)
            .json(&json!({"name": "a till"})),
        201,
    )
    .await;
    step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/operator/apps").bearer(&op),
        200,
    )
    .await;
    let app_id = created["app_id"].as_str().unwrap_or("").to_owned();
    step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", format!("/v1/operator/apps/{app_id}/revoke")).bearer(&op),
        200,
    )
    .await;
    let revoked = step(
        api,
        &mut c,
        &mut m,
        Req::new(
            "POST",
            format!("/v1/operator/wallets/{}/revoke-tokens", payee.id),
        )
        .bearer(&op),
        200,
    )
    .await;
    m.equal(
        "revoke-tokens revokes the payee's one token",
        revoked,
        json!({"revoked": 1}),
    );

    // Refusals are answers too: each with its documented status and shape.
    step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", w(&payee, "")).wallet(&app, &payee),
        401,
    )
    .await;
    step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", w(&payer, "/payments"))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"request_id": rq(&to_cancel)})),
        409,
    )
    .await;
    step(
        api,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/requests/rq_00000000000000000000000000000000").app(&app),
        404,
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "wallet-api.openapi.json", &doc);
    let captured = write_temp(dir.path(), "wallet-api.captured.json", &Value::Array(c.0));
    let (ok, output) = run_checker(&["responses", &spec, &captured]);
    println!("{output}");
    m.check(ok, || {
        format!("answers do not match the document:\n{output}")
    });
    m.finish("answers against their schemas");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: POST …/payments {\"to\", \"amount\": 300000} of an anonymous wallet is 422 \
            {\"code\": \"per_payment_limit\", \"limit\": \"per_payment\", \"payment_id\": 2, \
            \"remaining\": 200000, …}: ErrorBody declares only code and message"]
async fn a_refusal_by_a_limit_matches_its_schema() {
    let net = Net::start().await;
    let api = &net.api;
    let doc = api.document().await;
    let app = net.app_key.clone();
    let mut c = Captures::default();
    let mut m = Mismatches::new();
    let payer = net.linked_wallet("bank-a", 500_000).await;
    let payee = net.open_wallet("bank-a").await;
    let fund = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", format!("/v1/wallets/{}/fund", payer.id))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"amount": 400_000})),
        200,
    )
    .await;
    net.until_final(&payer, &fund).await;
    // Above the anonymous tier's 2,000.00 per payment.
    let refused = step(
        api,
        &mut c,
        &mut m,
        Req::new("POST", format!("/v1/wallets/{}/payments", payer.id))
            .wallet(&app, &payer)
            .key(&key())
            .json(&json!({"to": payee.address, "amount": 300_000})),
        422,
    )
    .await;
    m.check(refused["code"] == "per_payment_limit", || {
        format!("per_payment_limit: {refused}")
    });
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "wallet-api.openapi.json", &doc);
    let captured = write_temp(dir.path(), "wallet-api.refusal.json", &Value::Array(c.0));
    let (ok, output) = run_checker(&["responses", &spec, &captured]);
    println!("{output}");
    m.check(ok, || {
        format!("the refusal does not match the document:\n{output}")
    });
    m.finish("a refusal by a limit");
    net.stop().await;
}

// ---------------------------------------------------------------------------
// Hostile input

/// One hostile request and what the document says it gets.
struct Hostile<'a> {
    api: &'a Service,
    doc: &'a Value,
    m: Mismatches,
    /// Every answer's status, to check none was a 5xx.
    statuses: Vec<(String, u16)>,
}

impl Hostile<'_> {
    /// `req`, documented as `template`, must be refused with `status` and a
    /// JSON `code` among `codes`, and the document must declare `status`.
    async fn refused(&mut self, template: &str, req: Req, status: u16, codes: &[&str]) -> Answer {
        let (method, path) = (req.method.to_string(), req.path.clone());
        let answer = self.api.send(req).await;
        let case = format!("{method} {path}");
        self.statuses.push((case.clone(), answer.status));
        let message_ok = answer.body["message"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        self.m.check(
            answer.status == status && codes.contains(&answer.code()) && message_ok,
            || format!("{case}: {status} {codes:?}, got {}", answer.describe()),
        );
        self.m
            .check(documents(self.doc, &method, template, status), || {
                format!("{case}: {status} is not documented for {method} {template}")
            });
        answer
    }

    /// `req` must be taken: `status` (a success, or a refusal for what it
    /// asks rather than how).
    async fn taken(&mut self, template: &str, req: Req, status: u16) -> Answer {
        let (method, path) = (req.method.to_string(), req.path.clone());
        let answer = self.api.send(req).await;
        let case = format!("{method} {path}");
        self.statuses.push((case.clone(), answer.status));
        self.m.check(answer.status == status, || {
            format!("{case}: {status}, got {}", answer.describe())
        });
        self.m
            .check(documents(self.doc, &method, template, status), || {
                format!("{case}: {status} is not documented for {method} {template}")
            });
        answer
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_gets_its_documented_refusal() {
    // Hundreds of requests with one token: the rate limits (tested on their
    // own below) are raised out of the way.
    let net = Net::start_with(|c| {
        let many = Rate {
            per_second: 10_000,
            burst: 10_000,
        };
        c.app_rate = many;
        c.token_rate = many;
    })
    .await;
    let api = &net.api;
    let doc = api.document().await;
    let app = net.app_key.clone();
    let op = api.operator.clone();
    let payer = net.linked_wallet("bank-a", 800_000).await;
    let payee = net.open_wallet("bank-a").await;
    let funded = api
        .send(
            Req::new("POST", format!("/v1/wallets/{}/fund", payer.id))
                .wallet(&app, &payer)
                .key(&key())
                .json(&json!({"amount": 100_000})),
        )
        .await;
    assert_eq!(funded.status, 200, "fund the payer: {}", funded.describe());
    net.until_final(&payer, &funded.body).await;
    let mut h = Hostile {
        api,
        doc: &doc,
        m: Mismatches::new(),
        statuses: Vec::new(),
    };
    let w = |wallet: &Wallet, rest: &str| format!("/v1/wallets/{}{rest}", wallet.id);
    let (fund, pay, requests) = (
        w(&payer, "/fund"),
        w(&payer, "/payments"),
        w(&payee, "/requests"),
    );
    const FUND: &str = "/v1/wallets/{wallet_id}/fund";
    const DEFUND: &str = "/v1/wallets/{wallet_id}/defund";
    const PAY: &str = "/v1/wallets/{wallet_id}/payments";
    const REQUESTS: &str = "/v1/wallets/{wallet_id}/requests";
    const WALLET: &str = "/v1/wallets/{wallet_id}";
    const WALLETS: &str = "/v1/wallets";
    const APPS: &str = "/v1/operator/apps";
    const BANKS: &str = "/v1/banks";
    let money =
        |path: &str, wallet: &Wallet| Req::new("POST", path).wallet(&app, wallet).key(&key());

    // Bodies: not JSON, the wrong type, too large, unknown fields.
    let targets: [(&str, String, &Wallet); 3] = [
        (FUND, fund.clone(), &payer),
        (PAY, pay.clone(), &payer),
        (REQUESTS, requests.clone(), &payee),
    ];
    for (template, path, wallet) in &targets {
        for bad in [
            &b"{\"amount\": "[..],
            b"not json",
            b"[]",
            b"",
            b"{\"amount\": 5, \"amount\": 6}",
        ] {
            h.refused(
                template,
                money(path, wallet).raw(Some("application/json"), bad.to_vec()),
                400,
                &["invalid_json"],
            )
            .await;
        }
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            h.refused(
                template,
                money(path, wallet).raw(content_type, b"{\"amount\": 5}".to_vec()),
                415,
                &["unsupported_media_type"],
            )
            .await;
        }
        let big = format!("{{\"amount\": 5, \"pad\": \"{}\"}}", "x".repeat(BODY_MAX));
        h.refused(
            template,
            money(path, wallet).raw(Some("application/json"), big),
            413,
            &["body_too_large"],
        )
        .await;
        h.refused(
            template,
            money(path, wallet).json(&json!({"amount": 5, "memo": "hi"})),
            400,
            &["invalid_json"],
        )
        .await;
    }
    for (template, path, body) in [
        (
            WALLETS,
            "/v1/wallets".to_string(),
            json!({"bank": "bank-a", "phone": "+4930123456", "tier": "verified"}),
        ),
        (
            APPS,
            "/v1/operator/apps".to_string(),
            json!({"name": "x", "key": "mine"}),
        ),
    ] {
        let with_credentials = |req: Req| {
            if template == APPS {
                req.bearer(&op)
            } else {
                req.app(&app)
            }
        };
        h.refused(
            template,
            with_credentials(Req::new("POST", &path)).json(&body),
            400,
            &["invalid_json"],
        )
        .await;
        h.refused(
            template,
            with_credentials(Req::new("POST", &path)).raw(Some("application/json"), b"{".to_vec()),
            400,
            &["invalid_json"],
        )
        .await;
        h.refused(
            template,
            with_credentials(Req::new("POST", &path)).raw(Some("text/plain"), b"{}".to_vec()),
            415,
            &["unsupported_media_type"],
        )
        .await;
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(BODY_MAX));
        h.refused(
            template,
            with_credentials(Req::new("POST", &path)).raw(Some("application/json"), big),
            413,
            &["body_too_large"],
        )
        .await;
    }
    // A body of exactly 16 KiB is taken.
    let mut exact = b"{\"amount\": 1}".to_vec();
    exact.resize(BODY_MAX, b' ');
    let answer = h
        .taken(
            FUND,
            money(&fund, &payer).raw(Some("application/json"), exact),
            200,
        )
        .await;
    if answer.status == 200 {
        net.until_final(&payer, &answer.body).await;
    }

    // Amounts: 0, 2^63, -1, 1.5, "5", 2^64, missing; 2^63 - 1 is an amount.
    for (template, path, wallet, extra) in [
        (FUND, fund.clone(), &payer, json!({})),
        (DEFUND, w(&payer, "/defund"), &payer, json!({})),
        (PAY, pay.clone(), &payer, json!({"to": payee.address})),
        (REQUESTS, requests.clone(), &payee, json!({})),
    ] {
        let body = |amount: &str| {
            let mut text = serde_json::to_string(&extra).unwrap();
            text.pop();
            let comma = if text.len() > 1 { ", " } else { "" };
            format!("{text}{comma}\"amount\": {amount}}}")
        };
        for amount in ["0", "9223372036854775808"] {
            h.refused(
                template,
                money(&path, wallet).raw(Some("application/json"), body(amount)),
                400,
                &["bad_amount"],
            )
            .await;
        }
        for amount in [
            "-1",
            "1.5",
            "\"5\"",
            "18446744073709551616",
            "1e400",
            "[5]",
            "true",
        ] {
            h.refused(
                template,
                money(&path, wallet).raw(Some("application/json"), body(amount)),
                400,
                &["invalid_json"],
            )
            .await;
        }
    }
    h.refused(
        FUND,
        money(&fund, &payer).json(&json!({})),
        400,
        &["invalid_json"],
    )
    .await;
    h.refused(
        FUND,
        money(&fund, &payer).json(&json!({"amount": null})),
        400,
        &["invalid_json"],
    )
    .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"to": payee.address, "amount": null})),
        400,
        &["amount_required"],
    )
    .await;
    h.taken(
        REQUESTS,
        Req::new("POST", &requests)
            .wallet(&app, &payee)
            .json(&json!({"amount": 9_223_372_036_854_775_807_u64})),
        201,
    )
    .await;
    let answer = h
        .taken(
            PAY,
            money(&pay, &payer)
                .json(&json!({"to": payee.address, "amount": 9_223_372_036_854_775_807_u64})),
            422,
        )
        .await;
    h.m.check(
        ["per_payment_limit", "insufficient_funds"].contains(&answer.code()),
        || {
            format!(
                "2^63 - 1 is refused by a limit or the funds: {}",
                answer.describe()
            )
        },
    );

    // Payments: exactly one of three shapes.
    let request = h
        .taken(
            REQUESTS,
            Req::new("POST", &requests)
                .wallet(&app, &payee)
                .json(&json!({"amount": 700})),
            201,
        )
        .await;
    let request_id = request.body["request_id"].as_str().unwrap_or("").to_owned();
    let uri = request.body["uri"].as_str().unwrap_or("").to_owned();
    for body in [
        json!({}),
        json!({"amount": 5}),
        json!({"to": payee.address, "amount": 5, "request_id": request_id}),
        json!({"request_id": request_id, "amount": 700}),
        json!({"uri": uri, "to": payee.address}),
    ] {
        h.refused(PAY, money(&pay, &payer).json(&body), 400, &["bad_body"])
            .await;
    }
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"to": payee.address})),
        400,
        &["amount_required"],
    )
    .await;
    for to in [
        "",
        "cbdc1xyz",
        "bitcoin1qqqq",
        &payee.address.to_uppercase()[..10],
    ] {
        h.refused(
            PAY,
            money(&pay, &payer).json(&json!({"to": to, "amount": 5})),
            400,
            &["bad_address"],
        )
        .await;
    }
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"uri": "bitcoin:abc"})),
        400,
        &["bad_scheme"],
    )
    .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"uri": uri, "amount": 701})),
        400,
        &["uri_mismatch"],
    )
    .await;
    let expired = format!("cbdc:{}?amount=5&exp=1", payee.address);
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"uri": expired})),
        409,
        &["request_expired"],
    )
    .await;
    for id in ["rq_12", "rq_00000000000000000000000000000000", "x"] {
        h.refused(
            PAY,
            money(&pay, &payer).json(&json!({"request_id": id})),
            404,
            &["unknown_request"],
        )
        .await;
    }
    h.refused(
        PAY,
        money(&w(&payee, "/payments"), &payee).json(&json!({"request_id": request_id})),
        422,
        &["own_request"],
    )
    .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"to": payer.address, "amount": 5})),
        422,
        &["pay_to_self"],
    )
    .await;

    // Ids in paths: a wallet id that is not the token's is 403 whatever its
    // shape; unknown or malformed request, app and payment ids are 404 or 400.
    let upper = payer.id.to_uppercase().replacen("W_", "w_", 1);
    for id in [
        "w_0123456789abcdef0123456789abcdeg",
        upper.as_str(),
        "w_12",
        "x",
        payee.id.as_str(),
    ] {
        h.refused(
            WALLET,
            Req::new("GET", format!("/v1/wallets/{id}")).wallet(&app, &payer),
            403,
            &["wrong_wallet"],
        )
        .await;
    }
    for id in [
        "rq_12",
        "rq_0123456789ABCDEF0123456789ABCDEF",
        "rq_0123456789abcdef0123456789abcdeg",
        "x",
    ] {
        for rest in ["", "/qr.png", "/qr.svg"] {
            let template = format!("/v1/requests/{{request_id}}{rest}");
            h.refused(
                &template,
                Req::new("GET", format!("/v1/requests/{id}{rest}")).app(&app),
                404,
                &["unknown_request"],
            )
            .await;
        }
        h.refused(
            "/v1/wallets/{wallet_id}/requests/{request_id}/cancel",
            Req::new("POST", w(&payee, &format!("/requests/{id}/cancel"))).wallet(&app, &payee),
            404,
            &["unknown_request"],
        )
        .await;
    }
    // Another wallet's request cannot be cancelled by the payer.
    h.refused(
        "/v1/wallets/{wallet_id}/requests/{request_id}/cancel",
        Req::new("POST", w(&payer, &format!("/requests/{request_id}/cancel"))).wallet(&app, &payer),
        404,
        &["unknown_request"],
    )
    .await;
    const PAYMENT: &str = "/v1/wallets/{wallet_id}/payments/{payment_id}";
    for id in ["abc", "1.5", "9223372036854775808"] {
        h.refused(
            PAYMENT,
            Req::new("GET", w(&payer, &format!("/payments/{id}"))).wallet(&app, &payer),
            400,
            &["bad_path"],
        )
        .await;
    }
    for id in ["-1", "0", "9223372036854775807"] {
        h.refused(
            PAYMENT,
            Req::new("GET", w(&payer, &format!("/payments/{id}"))).wallet(&app, &payer),
            404,
            &["unknown_payment"],
        )
        .await;
    }
    for id in ["app_zz", "app_0000000000000000", "x"] {
        h.refused(
            "/v1/operator/apps/{app_id}/revoke",
            Req::new("POST", format!("/v1/operator/apps/{id}/revoke")).bearer(&op),
            404,
            &["unknown_app"],
        )
        .await;
    }
    for id in ["w_12", "w_00000000000000000000000000000000"] {
        h.refused(
            "/v1/operator/wallets/{wallet_id}/revoke-tokens",
            Req::new("POST", format!("/v1/operator/wallets/{id}/revoke-tokens")).bearer(&op),
            404,
            &["unknown_wallet"],
        )
        .await;
    }

    // App keys of the wrong shape, unknown, wrong or revoked.
    let (app_id, secret) = app.split_once('.').expect("an app key");
    let (other_app_id, other_app) = api.app("another app").await;
    let (revoked_id, revoked) = api.app("a revoked app").await;
    h.taken(
        "/v1/operator/apps/{app_id}/revoke",
        Req::new("POST", format!("/v1/operator/apps/{revoked_id}/revoke")).bearer(&op),
        200,
    )
    .await;
    let wrong_secret = format!("{app_id}.{}", "0".repeat(secret.len()));
    let long_secret = format!("{app_id}.{}", "a".repeat(129));
    let no_secret = format!("{app_id}.");
    let bad_keys: [&[u8]; 10] = [
        b"",
        b"nodot",
        b"app_zz.secret",
        no_secret.as_bytes(),
        long_secret.as_bytes(),
        wrong_secret.as_bytes(),
        revoked.as_bytes(),
        b"app_0000000000000000.\xff\xfe",
        b"Bearer x",
        app_id.as_bytes(),
    ];
    for bad in bad_keys {
        h.refused(
            BANKS,
            Req::new("GET", "/v1/banks").header("x-cbdc-app-key", bad),
            401,
            &["unknown_app"],
        )
        .await;
        h.refused(
            WALLET,
            Req::new("GET", w(&payer, ""))
                .header("x-cbdc-app-key", bad)
                .bearer(&payer.token),
            401,
            &["unknown_app"],
        )
        .await;
    }
    h.refused(BANKS, Req::new("GET", "/v1/banks"), 401, &["unknown_app"])
        .await;
    h.refused(
        WALLET,
        Req::new("GET", w(&payer, "")).bearer(&payer.token),
        401,
        &["unknown_app"],
    )
    .await;

    // Bearer tokens of the wrong shape, of another app, of another wallet.
    let get = || Req::new("GET", w(&payer, "")).app(&app);
    for header in [&b"Bearer"[..], b"Basic d3Q6eA==", b"wt_00", b""] {
        h.refused(
            WALLET,
            get().header("authorization", header),
            401,
            &["token_required"],
        )
        .await;
    }
    h.refused(WALLET, get(), 401, &["token_required"]).await;
    let unknown = format!("wt_{}", "0".repeat(64));
    let bad_tokens = [
        "x".to_string(),
        format!("wt_{}", "0".repeat(63)),
        format!("{}0", payer.token),
        payer.token.to_uppercase(),
        payer.token.replacen("wt_", "WT_", 1),
        unknown,
        op.clone(),
    ];
    for token in &bad_tokens {
        h.refused(WALLET, get().bearer(token), 401, &["bad_token"])
            .await;
    }
    let through_other = api.open_wallet(&other_app, "bank-a").await;
    h.refused(
        WALLET,
        Req::new("GET", w(&through_other, "")).wallet(&app, &through_other),
        401,
        &["bad_token"],
    )
    .await;
    h.taken(
        WALLET,
        Req::new("GET", w(&through_other, "")).wallet(&other_app, &through_other),
        200,
    )
    .await;
    h.refused(
        WALLET,
        Req::new("GET", w(&payer, "")).wallet(&app, &payee),
        403,
        &["wrong_wallet"],
    )
    .await;
    let dropped = net.open_wallet("bank-a").await;
    h.taken(
        "/v1/wallets/{wallet_id}/token",
        Req::new("DELETE", w(&dropped, "/token")).wallet(&app, &dropped),
        200,
    )
    .await;
    h.refused(
        WALLET,
        Req::new("GET", w(&dropped, "")).wallet(&app, &dropped),
        401,
        &["token_revoked"],
    )
    .await;
    h.refused(
        "/v1/wallets/{wallet_id}/token",
        Req::new("DELETE", w(&dropped, "/token")).wallet(&app, &dropped),
        401,
        &["token_revoked"],
    )
    .await;
    h.taken(
        "/v1/operator/apps/{app_id}/revoke",
        Req::new("POST", format!("/v1/operator/apps/{other_app_id}/revoke")).bearer(&op),
        200,
    )
    .await;
    h.refused(
        WALLET,
        Req::new("GET", w(&through_other, "")).wallet(&other_app, &through_other),
        401,
        &["unknown_app"],
    )
    .await;
    // The operator's routes: no token, a wallet's, an app key.
    for req in [
        Req::new("GET", "/v1/operator/apps"),
        Req::new("GET", "/v1/operator/apps").bearer(&payer.token),
        Req::new("GET", "/v1/operator/apps").header("authorization", app.as_bytes()),
        Req::new("GET", "/v1/operator/apps").app(&app),
        Req::new("GET", "/v1/operator/apps").bearer(&format!("{op}x")),
    ] {
        h.refused(APPS, req, 401, &["unauthorized"]).await;
    }

    // Idempotency-Key: missing, empty, with a tab or a space, 201
    // characters, not ASCII; 200 visible characters are a key.
    let body = json!({"amount": 1});
    h.refused(
        FUND,
        Req::new("POST", &fund).wallet(&app, &payer).json(&body),
        400,
        &["idempotency_key_required"],
    )
    .await;
    for bad in [
        &b""[..],
        b"a\tb",
        b"a b",
        "k".repeat(201).as_bytes(),
        "é".as_bytes(),
        b"\x80abc",
    ] {
        h.refused(
            FUND,
            Req::new("POST", &fund)
                .wallet(&app, &payer)
                .header("idempotency-key", bad)
                .json(&body),
            400,
            &["bad_idempotency_key", "idempotency_key_required"],
        )
        .await;
    }
    let long_key = "~".repeat(200);
    let first = h
        .taken(
            FUND,
            Req::new("POST", &fund)
                .wallet(&app, &payer)
                .key(&long_key)
                .json(&body),
            200,
        )
        .await;
    let again = h
        .taken(
            FUND,
            Req::new("POST", &fund)
                .wallet(&app, &payer)
                .key(&long_key)
                .json(&body),
            200,
        )
        .await;
    h.m.equal(
        "the same key and body: the first answer's payment",
        again.body["payment_id"].clone(),
        first.body["payment_id"].clone(),
    );
    h.refused(
        FUND,
        Req::new("POST", &fund)
            .wallet(&app, &payer)
            .key(&long_key)
            .json(&json!({"amount": 2})),
        409,
        &["idempotency_conflict"],
    )
    .await;
    h.refused(
        DEFUND,
        Req::new("POST", w(&payer, "/defund"))
            .wallet(&app, &payer)
            .key(&long_key)
            .json(&body),
        409,
        &["idempotency_conflict"],
    )
    .await;

    // Last-Event-ID: not an entry id.
    const EVENTS: &str = "/v1/wallets/{wallet_id}/events";
    for bad in [
        &b"x"[..],
        b"-1",
        b"1.5",
        b"99999999999999999999",
        b"",
        b"0x10",
    ] {
        h.refused(
            EVENTS,
            Req::new("GET", w(&payer, "/events"))
                .wallet(&app, &payer)
                .header("last-event-id", bad),
            400,
            &["bad_last_event_id"],
        )
        .await;
    }
    let (status, media, _, _) = read_events(
        api,
        Req::new("GET", w(&payer, "/events"))
            .wallet(&app, &payer)
            .header("last-event-id", b"0"),
        1,
    )
    .await;
    h.m.check(
        status == 200 && media.starts_with("text/event-stream"),
        || format!("Last-Event-ID 0: the stream, got {status} {media}"),
    );

    // Queries: limits out of 1 to 100, malformed values, unknown parameters.
    for (template, path, wallet) in [
        (
            "/v1/wallets/{wallet_id}/history",
            w(&payer, "/history"),
            &payer,
        ),
        (REQUESTS, requests.clone(), &payee),
    ] {
        for query in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=9223372036854775808",
        ] {
            let codes: &[&str] = if query.ends_with("808") {
                &["bad_query"]
            } else {
                &["bad_limit"]
            };
            h.refused(
                template,
                Req::new("GET", format!("{path}?{query}")).wallet(&app, wallet),
                400,
                codes,
            )
            .await;
        }
        for query in [
            "limit=abc",
            "limit=1.5",
            "foo=1",
            "limit=5&foo=1",
            "LIMIT=5",
        ] {
            h.refused(
                template,
                Req::new("GET", format!("{path}?{query}")).wallet(&app, wallet),
                400,
                &["bad_query"],
            )
            .await;
        }
        for query in ["limit=1", "limit=100", ""] {
            h.taken(
                template,
                Req::new("GET", format!("{path}?{query}")).wallet(&app, wallet),
                200,
            )
            .await;
        }
    }
    for query in ["before=abc", "before=", "after=5"] {
        h.refused(
            "/v1/wallets/{wallet_id}/history",
            Req::new("GET", w(&payer, &format!("/history?{query}"))).wallet(&app, &payer),
            400,
            &["bad_query"],
        )
        .await;
    }
    for state in ["bogus", "expired", "OPEN", ""] {
        h.refused(
            REQUESTS,
            Req::new("GET", format!("{requests}?state={state}")).wallet(&app, &payee),
            400,
            &["bad_query"],
        )
        .await;
    }

    // Opening wallets and requests, registering apps: the rules of their fields.
    for phone in [
        "",
        "123456789",
        "+12345",
        "+1234567890123456",
        "+4930 123456",
        "+49301234567\n",
        "+٤٩٣٠١٢٣٤٥٦",
    ] {
        h.refused(
            WALLETS,
            Req::new("POST", "/v1/wallets")
                .app(&app)
                .json(&json!({"bank": "bank-a", "phone": phone})),
            400,
            &["bad_phone"],
        )
        .await;
    }
    for bank in ["", "bank-c", "BANK-A", "bank-a "] {
        h.refused(
            WALLETS,
            Req::new("POST", "/v1/wallets")
                .app(&app)
                .json(&json!({"bank": bank, "phone": support::phone()})),
            404,
            &["unknown_bank"],
        )
        .await;
    }
    for phone in ["+123456", "+123456789012345"] {
        h.taken(
            WALLETS,
            Req::new("POST", "/v1/wallets")
                .app(&app)
                .json(&json!({"bank": "bank-b", "phone": phone})),
            201,
        )
        .await;
    }
    for (body, code) in [
        (json!({"amount": 5, "expires_in_s": 59}), "bad_expiry"),
        (json!({"amount": 5, "expires_in_s": 604_801}), "bad_expiry"),
        (json!({"amount": 5, "reference": ""}), "bad_reference"),
        (
            json!({"amount": 5, "reference": "r".repeat(141)}),
            "bad_reference",
        ),
    ] {
        h.refused(
            REQUESTS,
            Req::new("POST", &requests).wallet(&app, &payee).json(&body),
            400,
            &[code],
        )
        .await;
    }
    for body in [
        json!({"amount": 5, "expires_in_s": 60}),
        json!({"amount": 5, "expires_in_s": 604_800, "reference": "r".repeat(140)}),
        json!({"amount": 5, "reference": format!("{}{}", "é".repeat(40), "r".repeat(100))}),
    ] {
        h.taken(
            REQUESTS,
            Req::new("POST", &requests).wallet(&app, &payee).json(&body),
            201,
        )
        .await;
    }
    for name in ["".to_string(), "n".repeat(101)] {
        h.refused(
            APPS,
            Req::new("POST", "/v1/operator/apps")
                .bearer(&op)
                .json(&json!({"name": name})),
            400,
            &["bad_name"],
        )
        .await;
    }
    h.taken(
        APPS,
        Req::new("POST", "/v1/operator/apps")
            .bearer(&op)
            .json(&json!({"name": "ü".repeat(100)})),
        201,
    )
    .await;

    // Payment requests once settled: cancelled twice, paid, cancelled after.
    let cancel = |id: &str| {
        Req::new("POST", w(&payee, &format!("/requests/{id}/cancel"))).wallet(&app, &payee)
    };
    const CANCEL: &str = "/v1/wallets/{wallet_id}/requests/{request_id}/cancel";
    let once = h
        .taken(
            REQUESTS,
            Req::new("POST", &requests)
                .wallet(&app, &payee)
                .json(&json!({"amount": 800})),
            201,
        )
        .await;
    let once_id = once.body["request_id"].as_str().unwrap_or("").to_owned();
    h.taken(CANCEL, cancel(&once_id), 200).await;
    h.refused(CANCEL, cancel(&once_id), 409, &["request_cancelled"])
        .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"request_id": once_id})),
        409,
        &["request_cancelled"],
    )
    .await;
    let paid = h
        .taken(
            PAY,
            money(&pay, &payer).json(&json!({"request_id": request_id})),
            200,
        )
        .await;
    if paid.status == 200 {
        net.until_final(&payer, &paid.body).await;
    }
    support::eventually("the request is paid", || async {
        let answer = api
            .send(Req::new("GET", format!("/v1/requests/{request_id}")).app(&app))
            .await;
        if answer.body["state"] == "paid" {
            Ok(())
        } else {
            Err(answer.describe())
        }
    })
    .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"request_id": request_id})),
        409,
        &["request_paid"],
    )
    .await;
    h.refused(
        PAY,
        money(&pay, &payer).json(&json!({"uri": uri})),
        409,
        &["request_paid"],
    )
    .await;
    h.refused(CANCEL, cancel(&request_id), 409, &["request_paid"])
        .await;

    // Nothing was a 5xx, and the service still answers.
    for (case, status) in &h.statuses {
        h.m.check(*status < 500, || format!("{case}: answered {status}"));
    }
    let health = api.send(Req::new("GET", "/healthz")).await;
    h.m.check(health.status == 200, || {
        format!("GET /healthz after it all: {}", health.describe())
    });
    h.m.finish("hostile input");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_and_expired_tokens_answer_as_documented() {
    let net = Net::start().await;
    let doc = net.api.document().await;
    let mut m = Mismatches::new();
    // A replica on the same database whose tokens live a second, which lets
    // an app three requests at once (then one a second) and a token two.
    let replica = Service::start_on(
        net.api.db.clone(),
        net.routes(),
        net.api.operator.clone(),
        |c| {
            c.token_ttl = Duration::from_secs(1);
            c.app_rate = Rate {
                per_second: 1,
                burst: 3,
            };
            c.token_rate = Rate {
                per_second: 1,
                burst: 2,
            };
        },
    )
    .await;
    let wallet = replica.open_wallet(&net.app_key, "bank-a").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = replica
        .send(Req::new("GET", format!("/v1/wallets/{}", wallet.id)).wallet(&net.app_key, &wallet))
        .await;
    m.check(
        answer.status == 401 && answer.code() == "token_expired",
        || {
            format!(
                "a token past its expiry: 401 token_expired, got {}",
                answer.describe()
            )
        },
    );
    // An app's bucket: a fresh app, three at once, then 429.
    let (_, fresh) = net.api.app("a second app").await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(replica.send(Req::new("GET", "/v1/banks").app(&fresh)).await);
    }
    let statuses: Vec<u16> = seen.iter().map(|a| a.status).collect();
    let last = &seen[3];
    m.check(
        statuses == [200, 200, 200, 429]
            && last.code() == "rate_limited"
            && last.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1),
        || format!("an app's burst of 3: 200 200 200 429 rate_limited with Retry-After, got {statuses:?} {}", last.describe()),
    );
    m.check(documents(&doc, "GET", "/v1/banks", 429), || {
        "GET /v1/banks does not document 429".into()
    });
    // A token's bucket: another fresh app (its bucket holds three), a
    // token's two at once, then 429.
    let (_, third) = net.api.app("a third app").await;
    let payer = net.api.open_wallet(&third, "bank-a").await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(
            replica
                .send(Req::new("GET", format!("/v1/wallets/{}", payer.id)).wallet(&third, &payer))
                .await,
        );
    }
    let statuses: Vec<u16> = seen.iter().map(|a| a.status).collect();
    m.check(
        statuses == [200, 200, 429]
            && seen[2].code() == "rate_limited"
            && !seen[2].header("retry-after").is_empty(),
        || {
            format!(
                "a token's burst of 2: 200 200 429, got {statuses:?} {}",
                seen[2].describe()
            )
        },
    );
    m.check(
        documents(&doc, "GET", "/v1/wallets/{wallet_id}", 429),
        || "GET /v1/wallets/{wallet_id} does not document 429".into(),
    );
    m.finish("rate limits and expiry");
    replica.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: names and references the schemas admit are refused: POST /v1/operator/apps \
            {\"name\": \"till\\u0001\"} → 400 bad_name; POST …/requests {\"amount\": 5, \
            \"reference\": \"a\\u0085b\"} → 400 bad_reference (a control character), and \
            with 140 × \"é\" → 400 bad_reference (the URI would pass 1024 bytes); the schemas \
            say only 1 to 100 and 1 to 140 characters"]
async fn what_the_schemas_admit_is_taken() {
    let net = Net::start().await;
    let api = &net.api;
    let mut m = Mismatches::new();
    let payee = net.open_wallet("bank-a").await;
    for name in ["till\u{1}", "\u{92}3"] {
        let answer = api
            .send(
                Req::new("POST", "/v1/operator/apps")
                    .bearer(&api.operator)
                    .json(&json!({"name": name})),
            )
            .await;
        m.check(answer.status == 201, || {
            format!("an app named {name:?}: 201, got {}", answer.describe())
        });
    }
    let long = "é".repeat(140);
    for reference in ["a\u{85}b", "tab\there", "line\nbreak", long.as_str()] {
        let answer = api
            .send(
                Req::new("POST", format!("/v1/wallets/{}/requests", payee.id))
                    .wallet(&net.app_key, &payee)
                    .json(&json!({"amount": 5, "reference": reference})),
            )
            .await;
        m.check(answer.status == 201, || {
            format!("a reference {reference:?}: 201, got {}", answer.describe())
        });
    }
    m.finish("what the schemas admit");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: an Idempotency-Key with a control character (POST …/fund with `Idempotency-Key: \
            a\\x01b`) is refused by actix's HTTP parser before the app: 400 with an empty body, \
            no JSON code"]
async fn a_header_with_a_control_character_is_a_json_refusal() {
    let api = Service::without_banks().await;
    let address = api.base.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        let body = b"{\"amount\": 5}";
        let head = format!(
            "POST /v1/wallets/w_00000000000000000000000000000000/fund HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\
             Idempotency-Key: a\x01b\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert!(
        head.starts_with("HTTP/1.1 400") && json["code"].as_str().is_some_and(|c| !c.is_empty()),
        "a control character in a header: 400 with a JSON code, got {answer:?}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: POST …/fund {\"amount\": 2251799813685247.0} is 400 invalid_json \"invalid type: \
            floating point `2251799813685247.2`, expected u64\": an integer to JSON Schema (and \
            to cbdc-http's parse_json, up to 2^53), misread by serde_json's default float parser \
            (no `float_roundtrip`)"]
async fn an_integral_amount_written_with_a_fraction_is_that_integer() {
    let net = Net::start().await;
    let api = &net.api;
    let mut m = Mismatches::new();
    let payer = net.linked_wallet("bank-a", 1_000).await;
    for amount in ["1000.0", "2251799813685247.0", "4503599627370495.0", "1e3"] {
        let answer = api
            .send(
                Req::new("POST", format!("/v1/wallets/{}/fund", payer.id))
                    .wallet(&net.app_key, &payer)
                    .key(&key())
                    .raw(
                        Some("application/json"),
                        format!("{{\"amount\": {amount}}}"),
                    ),
            )
            .await;
        // 1000 is funded (then the deposit is empty); the others are above
        // the deposit and the balance limit.
        m.check(answer.status == 200 || answer.status == 422, || {
            format!(
                "an amount of {amount}: taken as an integer, got {}",
                answer.describe()
            )
        });
    }
    m.finish("integral amounts");
    net.stop().await;
}
