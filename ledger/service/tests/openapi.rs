//! The ledger's OpenAPI document against the ledger itself (issue 10, item
//! 2), on a real ledger over real HTTP: the document is valid OpenAPI 3.1
//! (openapi-spec-validator), every documented operation is served and
//! nothing undocumented is, every operation declares its parameters, request
//! and response schemas, error shape and security, the answers of a real
//! flow validate against their schemas (jsonschema, 2020-12), and the
//! browsable page is served by the ledger with no outside host.
//!
//! The validation runs in `tests/openapi_check.py` (Python: `pip install
//! openapi-spec-validator`, which brings jsonschema and referencing). With
//! `CBDC_OPENAPI_KEEP=DIR` the document and the captured answers are also
//! written to DIR.

mod support;

use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::{
    build_transfer, Amount, Issue, OwnedNote, Payment, Purpose, SecretKey, WalletKeys,
};
use rand::rngs::OsRng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::http::{Answer, Http, Mismatches, Req};
use support::net::Net;

const CHECKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi_check.py");
/// The longest the Python checker may run.
const CHECKER_TIMEOUT: Duration = Duration::from_secs(120);
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];
/// The four headers of a signed request.
const AUTH_HEADERS: &[&str] = &[
    "x-cbdc-key",
    "x-cbdc-timestamp",
    "x-cbdc-nonce",
    "x-cbdc-signature",
];
/// The open routes, which answer 200 to anyone.
const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];
/// Every route the ledger registers (api.rs), as (method, path template with
/// parameters written `{}`): each must be documented.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/v1/ledger"),
    ("post", "/v1/governance"),
    ("get", "/v1/participants"),
    ("post", "/v1/issuances"),
    ("get", "/v1/issuances/{}"),
    ("post", "/v1/issuances/{}/approvals"),
    ("post", "/v1/transactions"),
    ("get", "/v1/transactions/{}"),
    ("get", "/v1/notes/{}"),
    ("get", "/v1/events"),
    ("get", "/v1/supply"),
    ("post", "/v1/audit"),
    ("get", "/v1/audits/{}"),
    ("get", "/v1/blocks/latest"),
    ("get", "/v1/blocks/{}"),
];

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

/// Writes `value` into `dir` (and into `$CBDC_OPENAPI_KEEP`, if set, to look at afterwards).
fn write_temp(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(value).unwrap();
    if let Some(keep) = std::env::var_os("CBDC_OPENAPI_KEEP") {
        std::fs::write(Path::new(&keep).join(name), &bytes).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `GET /openapi.json`, unsigned.
async fn document(http: &Http) -> Value {
    let answer = http.get("/openapi.json").await;
    assert_eq!(
        answer.status,
        200,
        "GET /openapi.json: {}",
        answer.describe()
    );
    assert_eq!(answer.media_type(), "application/json");
    answer.json().expect("the document is JSON")
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

/// The parameters in force for an operation: the path item's, overridden by the operation's.
fn parameters<'a>(doc: &'a Value, template: &str, operation: &'a Value) -> Vec<&'a Value> {
    let item = resolve(doc, &doc["paths"][template]);
    let mut out: Vec<&Value> = Vec::new();
    for list in [item.get("parameters"), operation.get("parameters")]
        .into_iter()
        .flatten()
    {
        for parameter in list.as_array().into_iter().flatten() {
            let parameter = resolve(doc, parameter);
            out.retain(|p| !(p["name"] == parameter["name"] && p["in"] == parameter["in"]));
            out.push(parameter);
        }
    }
    out
}

/// A value of the right shape for a path parameter, from its example or schema.
fn well_shaped(doc: &Value, parameter: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(example) = parameter.get("example").and_then(text) {
        return Some(example);
    }
    if let Some(examples) = parameter.get("examples").and_then(Value::as_object) {
        if let Some(value) = examples
            .values()
            .find_map(|e| resolve(doc, e).get("value").and_then(text))
        {
            return Some(value);
        }
    }
    let schema = resolve(doc, parameter.get("schema")?);
    if let Some(example) = schema.get("example").and_then(text) {
        return Some(example);
    }
    if let Some(example) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().find_map(text))
    {
        return Some(example);
    }
    if schema["type"] == "integer" {
        return Some(schema["minimum"].as_u64().unwrap_or(0).to_string());
    }
    let pattern = schema.get("pattern").and_then(Value::as_str)?;
    if pattern.contains("0-9a-f") || pattern.contains("a-f0-9") {
        let count: usize = pattern
            .split('{')
            .nth(1)?
            .split(['}', ','])
            .next()?
            .parse()
            .ok()?;
        return Some("0".repeat(count));
    }
    if pattern.contains("0-9") || pattern.contains("\\d") {
        return Some("1".to_owned());
    }
    None
}

/// The properties and required names of an object schema (through `$ref` and `allOf`).
fn object_shape(doc: &Value, schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = resolve(doc, schema);
    let mut properties: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut required: BTreeSet<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = object_shape(doc, part);
        properties.extend(p);
        required.extend(r);
    }
    (properties, required)
}

fn media_schema<'a>(doc: &'a Value, response: &'a Value, media: &str) -> Option<&'a Value> {
    let content = resolve(doc, response).get("content")?.as_object()?;
    content
        .iter()
        .find(|(name, _)| name.split(';').next().unwrap().trim() == media)
        .and_then(|(_, m)| m.get("schema"))
}

/// The names of the headers a security requirement object asks for, if every
/// scheme it names is an API key in a header.
fn requirement_headers(doc: &Value, requirement: &Value) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for scheme in requirement.as_object()?.keys() {
        let scheme = resolve(doc, &doc["components"]["securitySchemes"][scheme]);
        if scheme["type"] != "apiKey" || scheme["in"] != "header" {
            return None;
        }
        names.insert(scheme["name"].as_str()?.to_ascii_lowercase());
    }
    Some(names)
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_is_valid_openapi_3_1() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let doc = document(&http).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "openapi.json", &doc);
    let (ok, output) = run_checker(&["spec", &file]);
    println!("{output}");
    assert!(
        ok,
        "GET /openapi.json is not a valid OpenAPI 3.1 document:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_documented_operation_is_served_and_nothing_else() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let doc = document(&http).await;
    let mut m = Mismatches::new();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .iter()
        .map(|(template, method, _)| (method.clone(), normalized(template)))
        .collect();
    for (method, template) in ROUTES {
        m.expect(
            documented.contains(&(method.to_string(), template.to_string())),
            || {
                format!(
                    "{} {template} is served but not documented",
                    method.to_uppercase()
                )
            },
        );
    }
    for (template, method, operation) in operations(&doc) {
        let mut path = template.clone();
        let parameters = parameters(&doc, &template, operation);
        let mut shaped = true;
        for name in path_parameter_names(&template) {
            let value = parameters
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name.as_str())
                .and_then(|p| well_shaped(&doc, p));
            match value {
                Some(value) => path = path.replace(&format!("{{{name}}}"), &value),
                None => {
                    m.expect(false, || {
                        format!(
                            "{} {template}: path parameter {name} has no example or \
                             schema to make a well-shaped value from",
                            method.to_uppercase()
                        )
                    });
                    shaped = false;
                }
            }
        }
        if !shaped {
            continue;
        }
        let upper = method.to_uppercase();
        let answer = http.send(Req::new(&upper, &path)).await;
        let case = format!("{upper} {path} (documented as {template}), unsigned");
        if template.starts_with("/v1/") {
            m.refused(&case, &answer, 401, &["unauthenticated"]);
        } else if OPEN_ROUTES.contains(&template.as_str()) {
            m.status(&case, &answer, 200);
        } else {
            // Another open route (the browsable page, say): one of its documented answers.
            let documented = operation["responses"]
                .as_object()
                .is_some_and(|r| r.contains_key(&answer.status.to_string()));
            m.expect(answer.status < 400 && documented, || {
                format!(
                    "{case}: answered {}, not a documented success",
                    answer.describe()
                )
            });
        }
    }
    for path in ["/v1/nope", "/v2/supply", "/v1/participants/x"] {
        m.expect(doc["paths"].get(path).is_none(), || {
            format!("{path} is documented")
        });
        let answer = http.get(path).await;
        m.status(&format!("GET {path} (undocumented)"), &answer, 404);
    }
    // /metrics: Prometheus text, documented as such.
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"];
    let declared: Vec<String> = resolve(&doc, metrics)["content"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    m.expect(
        declared.len() == 1 && declared[0].starts_with("text/plain"),
        || format!("/metrics is documented as {declared:?}, not text/plain"),
    );
    let answer = http.get("/metrics").await;
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    m.expect(
        answer.status == 200 && answer.media_type() == "text/plain",
        || {
            format!(
                "GET /metrics answered {} {}",
                answer.status,
                answer.header("content-type")
            )
        },
    );
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| {
            l.rsplit(' ')
                .next()
                .is_some_and(|v| v.parse::<f64>().is_ok())
        })
        .count();
    m.expect(
        text.contains("# TYPE ") && text.contains("# HELP ") && samples > 0,
        || {
            format!(
                "GET /metrics is not Prometheus text: {}",
                text.chars().take(200).collect::<String>()
            )
        },
    );
    m.finish("documented operations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_declares_parameters_schemas_errors_and_security() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let doc = document(&http).await;
    let mut m = Mismatches::new();
    let bodies: &[(&str, &[&str])] = &[
        ("/v1/governance", &["application/json"]),
        ("/v1/issuances", &["application/json"]),
        ("/v1/issuances/{}/approvals", &["application/json"]),
        (
            "/v1/transactions",
            &["application/json", "application/octet-stream"],
        ),
    ];
    for (template, method, operation) in operations(&doc) {
        let op = format!("{} {template}", method.to_uppercase());
        let parameters = parameters(&doc, &template, operation);
        // Path parameters.
        let names = path_parameter_names(&template);
        for name in &names {
            let declared = parameters
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name.as_str());
            m.expect(
                declared.is_some_and(|p| p["required"] == true && p.get("schema").is_some()),
                || format!("{op}: path parameter {name} is not declared (in: path, required, with a schema)"),
            );
        }
        for parameter in parameters.iter().filter(|p| p["in"] == "path") {
            let name = parameter["name"].as_str().unwrap_or("");
            m.expect(names.iter().any(|n| n == name), || {
                format!("{op}: declares a path parameter {name} the path does not have")
            });
        }
        // Request bodies.
        if let Some((_, medias)) = bodies
            .iter()
            .find(|(t, _)| *t == normalized(&template) && method == "post")
        {
            let body = operation.get("requestBody").map(|b| resolve(&doc, b));
            for media in *medias {
                m.expect(
                    body.is_some_and(|b| media_schema(&doc, b, media).is_some()),
                    || format!("{op}: no request body schema for {media}"),
                );
            }
        }
        // Responses.
        let responses = operation["responses"].as_object();
        let statuses: Vec<String> = responses
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        m.expect(
            statuses
                .iter()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            || format!("{op}: no success response declared ({statuses:?})"),
        );
        for (status, response) in responses.into_iter().flatten() {
            let response = resolve(&doc, response);
            if status.starts_with('2') && status != "204" {
                let content = response["content"].as_object();
                let with_schemas = content.is_some_and(|c| {
                    !c.is_empty()
                        && c.values().all(|media| {
                            media
                                .get("schema")
                                .is_some_and(|s| s.as_object().is_some_and(|s| !s.is_empty()))
                        })
                });
                m.expect(with_schemas, || {
                    format!("{op}: success response {status} has no schema: {response}")
                });
            }
            if status.starts_with('4') {
                let shape = media_schema(&doc, response, "application/json")
                    .map(|schema| object_shape(&doc, schema));
                m.expect(
                    shape.as_ref().is_some_and(|(properties, required)| {
                        ["code", "message"]
                            .iter()
                            .all(|f| properties.contains(*f) && required.contains(*f))
                    }),
                    || {
                        format!(
                            "{op}: error response {status} has no JSON schema with required \
                             code and message"
                        )
                    },
                );
            }
        }
        let documents = |code: &str| {
            statuses
                .iter()
                .any(|s| s == code || s.eq_ignore_ascii_case(&format!("{}XX", &code[..1])))
        };
        // Security.
        let security = operation.get("security").or(doc.get("security"));
        let requirements: Vec<&Value> = security
            .and_then(Value::as_array)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        if template.starts_with("/v1/") {
            let by_scheme = !requirements.is_empty()
                && requirements.iter().all(|requirement| {
                    requirement_headers(&doc, requirement)
                        .is_some_and(|names| AUTH_HEADERS.iter().all(|h| names.contains(*h)))
                });
            let by_parameters = AUTH_HEADERS.iter().all(|h| {
                parameters.iter().any(|p| {
                    p["in"] == "header"
                        && p["required"] == true
                        && p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(h))
                })
            });
            m.expect(by_scheme || by_parameters, || {
                format!(
                    "{op}: does not declare the x-cbdc-* headers (as security schemes or \
                     required header parameters); security is {security:?}"
                )
            });
            m.expect(documents("401"), || {
                format!("{op}: 401 is not documented ({statuses:?})")
            });
        } else {
            m.expect(
                requirements.is_empty()
                    || requirements
                        .iter()
                        .any(|r| r.as_object().is_some_and(|o| o.is_empty())),
                || format!("{op}: an open route is declared as needing {security:?}"),
            );
        }
        if !names.is_empty() {
            m.expect(documents("400"), || {
                format!("{op}: takes a path parameter but documents no 400 ({statuses:?})")
            });
        }
    }
    // The feed's query.
    match doc["paths"]["/v1/events"].get("get") {
        None => m.expect(false, || "GET /v1/events is not documented".to_owned()),
        Some(operation) => {
            let parameters = parameters(&doc, "/v1/events", operation);
            for name in ["after", "limit", "owner", "wait_ms"] {
                m.expect(
                    parameters.iter().any(|p| {
                        p["in"] == "query" && p["name"] == name && p.get("schema").is_some()
                    }),
                    || format!("GET /v1/events: query parameter {name} is not declared"),
                );
            }
            let limit = parameters
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == "limit")
                .map(|p| resolve(&doc, &p["schema"]));
            m.expect(
                limit.is_some_and(|s| s["minimum"] == 1 && s["maximum"] == 1000),
                || format!("GET /v1/events: limit should declare minimum 1 and maximum 1000: {limit:?}"),
            );
        }
    }
    m.finish("declarations");
}

// ---------------------------------------------------------------------------

/// What the ledger answered, kept for the checker.
struct Captures(Vec<Value>);

impl Captures {
    fn keep(&mut self, method: &str, path: &str, answer: &Answer) {
        let body = answer
            .json()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
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
    http: &Http,
    captures: &mut Captures,
    m: &mut Mismatches,
    req: Req<'_>,
    status: u16,
) -> Value {
    let (method, path) = (req.method.to_owned(), req.path.to_owned());
    let answer = http.send(req).await;
    captures.keep(&method, &path, &answer);
    m.status(&format!("{method} {path}"), &answer, status);
    answer.json().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_of_a_real_flow_match_their_schemas() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let doc = document(&http).await;
    let (o0, o1, o2) = (&net.officers[0], &net.officers[1], &net.officers[2]);
    let bank = &net.bank.spend;
    let mut c = Captures(Vec::new());
    let mut m = Mismatches::new();
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        step(&http, &mut c, &mut m, Req::new("GET", path), 200).await;
    }
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/ledger").signed(o0),
        200,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/participants").signed(bank),
        200,
    )
    .await;
    // An officer admits a second bank.
    let sequence = net.officer(0).governance_sequence().await.unwrap();
    let other = WalletKeys::generate(&mut OsRng);
    let mut entry = Governance::new(
        sequence,
        Action::Admit {
            member: Member {
                role: Role::Bank,
                id: "bank-b".into(),
                name: "Bank B".into(),
                key: other.spend.public_key(),
                view_key: Some(other.view.public_key()),
            },
        },
    );
    entry.approve(o0, &mut OsRng);
    let entry = serde_json::to_value(&entry).unwrap();
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/governance").json(&entry).signed(o0),
        201,
    )
    .await;
    // Maker–checker issuance.
    let body = json!({"bank_id": "bank-a", "amount": 50_000});
    let proposal = step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/issuances").json(&body).signed(o0),
        201,
    )
    .await;
    let id = proposal["id"].as_str().expect("a proposal id").to_owned();
    let path = format!("/v1/issuances/{id}");
    let shown = step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(o1),
        200,
    )
    .await;
    let issue: Issue =
        serde_json::from_value(shown["issue"].clone()).expect("the proposal's issue");
    let approvals = format!("/v1/issuances/{id}/approvals");
    let mut executed = Value::Null;
    for officer in [o0, o1] {
        let signature = officer.sign(Purpose::Officer, &issue.digest(), &mut OsRng);
        let body = json!({ "signature": signature });
        executed = step(
            &http,
            &mut c,
            &mut m,
            Req::new("POST", &approvals).json(&body).signed(officer),
            200,
        )
        .await;
    }
    assert_eq!(executed["state"], "executed", "{executed}");
    let tx_id = executed["receipt"]["tx_id"]
        .as_str()
        .expect("a receipt")
        .to_owned();
    let path = format!("/v1/transactions/{tx_id}");
    let stored = step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(bank),
        200,
    )
    .await;
    let mut issue: Issue = serde_json::from_value(executed["issue"].clone()).unwrap();
    let Ok(ledger_core::Transaction::Issue(signed)) =
        serde_json::from_value::<ledger_core::Transaction>(stored["transaction"].clone())
    else {
        panic!("the stored transaction is not an issue: {stored}");
    };
    issue.officer_signatures = signed.officer_signatures;
    // The bank pays a customer twice (binary, then JSON).
    let customer = WalletKeys::generate(&mut OsRng);
    let mut notes: Vec<OwnedNote> = issue.owned_notes();
    let mut paid = None;
    for binary in [true, false] {
        let built = build_transfer(
            std::slice::from_ref(bank),
            &notes,
            &[Payment {
                to: customer.address(),
                amount: Amount::new(1_000),
            }],
            &net.bank.address(),
            &mut OsRng,
        )
        .unwrap();
        let req = if binary {
            Req::new("POST", "/v1/transactions")
                .body(Some("application/octet-stream"), built.tx.encode())
        } else {
            Req::new("POST", "/v1/transactions").json(&serde_json::to_value(&built.tx).unwrap())
        };
        step(&http, &mut c, &mut m, req.signed(bank), 200).await;
        let change = built.outputs.iter().find(|o| o.change).unwrap();
        notes = vec![OwnedNote {
            id: change.note,
            owner: bank.public_key(),
            opening: change.opening.clone(),
        }];
        paid = built.outputs.iter().find(|o| !o.change).map(|o| o.note);
    }
    let path = format!("/v1/notes/{}", paid.unwrap());
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(bank),
        200,
    )
    .await;
    let path = format!("/v1/notes/{}", notes[0].id);
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(bank),
        200,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/events?after=0").signed(bank),
        200,
    )
    .await;
    let path = format!(
        "/v1/events?after=1&limit=10&wait_ms=0&owner={}",
        hex::encode(customer.spend.public_key().as_bytes())
    );
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(bank),
        200,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/supply").signed(bank),
        200,
    )
    .await;
    let latest = step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/blocks/latest").signed(bank),
        200,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/blocks/0").signed(bank),
        200,
    )
    .await;
    let path = format!("/v1/blocks/{}", latest["height"].as_u64().unwrap_or(1));
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &path).signed(bank),
        200,
    )
    .await;
    // An audit, from start to end.
    let run = step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/audit").signed(o2),
        202,
    )
    .await;
    let audit = run["id"].as_u64().expect("an audit id");
    let path = format!("/v1/audits/{audit}");
    let started = Instant::now();
    loop {
        let run = step(
            &http,
            &mut c,
            &mut m,
            Req::new("GET", &path).signed(bank),
            200,
        )
        .await;
        if run["state"] != "running" {
            assert_eq!(run["state"], "passed", "{run}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the audit ran over a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/supply").signed(o0),
        200,
    )
    .await;
    // Refusals.
    let unknown_tx = format!("/v1/transactions/{}", "0".repeat(64));
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", &unknown_tx).signed(bank),
        404,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/transactions/zz").signed(bank),
        400,
    )
    .await;
    step(&http, &mut c, &mut m, Req::new("GET", "/v1/supply"), 401).await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/audit").signed(bank),
        403,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/blocks/999").signed(bank),
        404,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/audits/999").signed(bank),
        404,
    )
    .await;
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/events?limit=abc").signed(bank),
        400,
    )
    .await;
    let zero = json!({"bank_id": "bank-a", "amount": 0});
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/issuances").json(&zero).signed(o0),
        400,
    )
    .await;
    let nobody = json!({"bank_id": "nobody", "amount": 5});
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", "/v1/issuances").json(&nobody).signed(o0),
        422,
    )
    .await;
    let broken = Req::new("POST", "/v1/issuances").body(Some("application/json"), "{not json");
    step(&http, &mut c, &mut m, broken.signed(o0), 400).await;
    let late = json!({"signature": o2.sign(Purpose::Officer, &issue.digest(), &mut OsRng)});
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("POST", &approvals).json(&late).signed(o2),
        409,
    )
    .await;
    let big = Req::new("POST", "/v1/transactions")
        .body(Some("application/octet-stream"), vec![0u8; 70 * 1024]);
    step(&http, &mut c, &mut m, big.signed(bank), 413).await;
    let plain = Req::new("POST", "/v1/transactions").body(Some("text/plain"), "{}");
    step(&http, &mut c, &mut m, plain.signed(bank), 415).await;
    let stranger = SecretKey::generate(&mut OsRng);
    step(
        &http,
        &mut c,
        &mut m,
        Req::new("GET", "/v1/supply").signed(&stranger),
        401,
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "openapi.json", &doc);
    let captured = write_temp(dir.path(), "captured.json", &Value::Array(c.0));
    let (ok, output) = run_checker(&["responses", &spec, &captured]);
    println!("{output}");
    m.expect(ok, || {
        format!("answers do not match the document:\n{output}")
    });
    m.finish("answers against their schemas");
}

// ---------------------------------------------------------------------------

/// The values of every `src=` and `href=` attribute in `html`.
fn referenced_urls(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    for attribute in ["src=", "href="] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(attribute) {
            let start = from + at + attribute.len();
            from = start;
            let Some(quote) = html[start..].chars().next() else {
                break;
            };
            let value = if quote == '"' || quote == '\'' {
                html[start + 1..].split(quote).next().unwrap_or("")
            } else {
                html[start..]
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or("")
            };
            urls.push(value.trim().to_owned());
        }
    }
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_browsable_page_is_served_by_the_ledger_itself() {
    let net = Net::start().await;
    let http = Http::new(net.base());
    let mut m = Mismatches::new();
    let page_url = format!("{}/docs/", net.base());
    let page = http.get("/docs/").await;
    m.expect(
        page.status == 200 && page.media_type() == "text/html",
        || {
            format!(
                "GET /docs/ answered {} {}",
                page.status,
                page.header("content-type")
            )
        },
    );
    // /docs: a redirect to the page, or the page.
    let bare = http.get("/docs").await;
    if (300..400).contains(&bare.status) {
        let location = bare.header("location");
        let target = reqwest::Url::parse(&format!("{}/docs", net.base()))
            .unwrap()
            .join(&location)
            .map(|u| u.to_string());
        match target {
            Ok(target) if target.starts_with(net.base()) => {
                let answer = http.get(&target[net.base().len()..]).await;
                m.expect(
                    answer.status == 200 && answer.media_type() == "text/html",
                    || {
                        format!(
                            "/docs redirects to {location}, which answers {}",
                            answer.status
                        )
                    },
                );
            }
            other => m.expect(false, || {
                format!("/docs redirects elsewhere: {location} ({other:?})")
            }),
        }
    } else {
        m.expect(bare.status < 500, || {
            format!("GET /docs answered {}", bare.describe())
        });
    }
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let own = reqwest::Url::parse(&page_url).unwrap();
    let mut scripts = 0;
    let mut texts = vec![html.clone()];
    for reference in referenced_urls(&html) {
        if reference.is_empty() || reference.starts_with('#') || reference.starts_with("data:") {
            continue;
        }
        let url = match own.join(&reference) {
            Ok(url) => url,
            Err(e) => {
                m.expect(false, || format!("the page references {reference:?}: {e}"));
                continue;
            }
        };
        let same_host = url.scheme() == own.scheme()
            && url.host_str() == own.host_str()
            && url.port_or_known_default() == own.port_or_known_default();
        m.expect(same_host, || {
            format!("the page references {reference}, which is not served by the ledger")
        });
        if !same_host {
            continue;
        }
        let path = &url.as_str()[net.base().len()..];
        let asset = http.get(path).await;
        m.status(&format!("GET {path} (referenced by /docs/)"), &asset, 200);
        if url.path().ends_with(".js") {
            scripts += 1;
        }
        texts.push(String::from_utf8_lossy(&asset.body).into_owned());
    }
    m.expect(scripts > 0, || "the page references no script".to_owned());
    m.expect(texts.iter().any(|t| t.contains("openapi.json")), || {
        "neither the page nor its assets load /openapi.json".to_owned()
    });
    m.expect(
        !texts.iter().any(|t| t.contains("petstore.swagger.io")),
        || "the page loads the petstore example from swagger.io".to_owned(),
    );
    m.finish("the browsable page");
}
