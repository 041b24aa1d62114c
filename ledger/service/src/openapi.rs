//! The OpenAPI document, generated from the code.
//!
//! Handlers carry `#[utoipa::path]` and are registered through
//! `utoipa-actix-web`, so a route cannot be served without being documented.
//! The response and request types of [`crate::wire`] derive their schemas. The
//! ledger-core types that travel as JSON (transactions, receipts, governance
//! entries, block headers) keep `ledger-core` free of documentation machinery:
//! their shapes are described here, once, by the [`core_json`] mirror types,
//! which are never constructed — a test validates real answers against them.
//!
//! [`RouteTable`] is built from the same document: a request whose path is a
//! documented route but whose method is not gets `405` with `Allow`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// The name of the security requirement every `/v1` route declares.
pub const SECURITY: &str = "signed_request";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cbdc ledger",
        description = "The central bank's ledger: issuance by M-of-N officers, confidential \
            transfers and redeems submitted by banks, the signed journal and its audit. \
            Every `/v1` request is signed with the caller's registered key (PROTOCOL.md, \
            \"Signed requests\"); errors are `{\"code\", \"message\"}` with the status \
            documented per route.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SignedRequests),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document."),
        (name = "governance", description = "Participants and the officers' governance entries."),
        (name = "issuance", description = "Maker–checker issuance: proposals and approvals."),
        (name = "transactions", description = "Transfers and redeems, notes and the event feed."),
        (name = "journal", description = "Blocks, the supply and its audit."),
    )
)]
pub struct ApiDoc;

/// Declares the four signature headers as one security requirement.
struct SignedRequests;

impl Modify for SignedRequests {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let header = |name: &str, what: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                &format!("{what} (PROTOCOL.md, \"Signed requests\")."),
            )))
        };
        components.add_security_scheme(
            "cbdc_key",
            header(
                "x-cbdc-key",
                "The caller's registered public key, 64 hex characters",
            ),
        );
        components.add_security_scheme(
            "cbdc_timestamp",
            header(
                "x-cbdc-timestamp",
                "Milliseconds since the Unix epoch, within 5 minutes of the ledger's clock",
            ),
        );
        components.add_security_scheme(
            "cbdc_nonce",
            header(
                "x-cbdc-nonce",
                "16 random bytes, 32 hex characters, never reused by the key",
            ),
        );
        components.add_security_scheme(
            "cbdc_signature",
            header(
                "x-cbdc-signature",
                "Schnorr signature (purpose `request`) over the request message, 128 hex characters",
            ),
        );
    }
}

/// The JSON shapes of the ledger-core types, for the document only.
#[allow(dead_code)]
pub mod core_json {
    use utoipa::ToSchema;

    /// 32 bytes in lowercase hex.
    #[derive(ToSchema)]
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub struct Hex32(String);

    /// A Schnorr signature `R ‖ s`: 64 bytes in lowercase hex.
    #[derive(ToSchema)]
    #[schema(value_type = String, pattern = "^[0-9a-f]{128}$")]
    pub struct SignatureHex(String);

    /// Bytes of variable length in lowercase hex.
    #[derive(ToSchema)]
    #[schema(value_type = String, pattern = "^([0-9a-f]{2})*$")]
    pub struct BytesHex(String);

    /// A transaction in the binary encoding (PROTOCOL.md).
    #[derive(ToSchema)]
    #[schema(value_type = String, format = Binary)]
    pub struct EncodedTransaction(Vec<u8>);

    /// A participant's role.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum Role {
        Officer,
        Bank,
    }

    /// An approval: the officer's public key and signature.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    #[schema(as = OfficerSignature)]
    pub struct OfficerSignature {
        officer: Hex32,
        signature: SignatureHex,
    }

    /// An output of an issue: amount and blinding are public.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct IssueOutput {
        owner: Hex32,
        #[schema(minimum = 0)]
        value: u64,
        /// The public blinding scalar.
        blinding: Hex32,
    }

    /// Money created by the central bank: M-of-N officer signatures over its digest.
    #[derive(ToSchema)]
    pub struct Issue {
        /// 32 bytes, unique per issue.
        reference: Hex32,
        outputs: Vec<IssueOutput>,
        officer_signatures: Vec<OfficerSignature>,
    }

    /// A confidential output: owner, Pedersen commitment, encrypted memo.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Output {
        owner: Hex32,
        commitment: Hex32,
        memo: BytesHex,
    }

    /// The kernel: the excess and the proof that it commits to zero.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Kernel {
        excess: Hex32,
        signature: SignatureHex,
    }

    /// A transfer or a redeem.
    #[derive(ToSchema)]
    pub struct Spend {
        inputs: Vec<Hex32>,
        /// Zero for a transfer; the public amount a redeem takes out of circulation.
        #[schema(minimum = 0)]
        burned: u64,
        outputs: Vec<Output>,
        /// Present exactly when there are outputs.
        range_proof: Option<BytesHex>,
        kernel: Kernel,
        owner_signatures: Vec<SignatureHex>,
    }

    /// A participant as a governance entry names it.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Member {
        role: Role,
        /// 1 to 64 characters of `A-Z a-z 0-9 - _`.
        #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
        id: String,
        /// 1 to 200 bytes of UTF-8 without control characters.
        #[schema(min_length = 1, max_length = 200)]
        name: String,
        key: Hex32,
        view_key: Option<Hex32>,
    }

    /// What a governance entry does.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    #[serde(tag = "type")]
    pub enum Action {
        Genesis {
            ledger_key: Hex32,
            #[schema(minimum = 1, maximum = 255)]
            threshold: u8,
            #[schema(minimum = 0)]
            supply_ceiling: u64,
            members: Vec<Member>,
        },
        Admit {
            member: Member,
        },
        Suspend {
            id: String,
        },
        Reinstate {
            id: String,
        },
        Rekey {
            id: String,
            key: Hex32,
            view_key: Option<Hex32>,
        },
        SetThreshold {
            #[schema(minimum = 1, maximum = 255)]
            threshold: u8,
        },
    }

    /// A governance entry and the officers' approvals of its digest.
    #[derive(ToSchema)]
    pub struct Governance {
        /// How many governance entries the journal holds before this one.
        #[schema(minimum = 0)]
        sequence: u64,
        action: Action,
        /// May be omitted when empty.
        #[schema(required = false)]
        approvals: Vec<OfficerSignature>,
    }

    /// A transaction: `kind` names which, every binary value is lowercase hex.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    #[serde(tag = "kind")]
    pub enum Transaction {
        Issue(Issue),
        Transfer(Spend),
        Redeem(Spend),
        Governance(Governance),
    }

    /// A block header as the ledger signed it.
    #[derive(ToSchema)]
    pub struct BlockHeader {
        #[schema(minimum = 0)]
        height: u64,
        prev_hash: Hex32,
        merkle_root: Hex32,
        #[schema(minimum = 0)]
        tx_count: u32,
        /// Milliseconds since the Unix epoch, as the ledger's clock said.
        #[schema(minimum = 0)]
        time_ms: u64,
    }

    /// Proof that the ledger committed a transaction: the signed block header and
    /// the Merkle path from the transaction id to its root.
    #[derive(ToSchema)]
    pub struct Receipt {
        tx_id: Hex32,
        block: BlockHeader,
        block_signature: SignatureHex,
        #[schema(minimum = 0)]
        index: u32,
        path: Vec<Hex32>,
    }
}

/// Which methods each documented path template answers; for `405` + `Allow`.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTable {
    pub fn from_document(doc: &Document) -> RouteTable {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .trim_matches('/')
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                let mut methods = Vec::new();
                for (name, present) in [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ] {
                    if present {
                        methods.push(name);
                    }
                }
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods a path answers, if it is a documented route.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<&'static str> = Vec::new();
        let mut found = false;
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Literal(l) => l == p,
                    Segment::Parameter => !p.is_empty(),
                });
            if matches {
                found = true;
                for m in methods {
                    if !allowed.contains(m) {
                        allowed.push(m);
                    }
                }
            }
        }
        found.then_some(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_of_documented_paths() {
        let doc = crate::server::openapi();
        let table = RouteTable::from_document(&doc);
        assert_eq!(table.allowed("/v1/supply"), Some(vec!["GET"]));
        assert_eq!(table.allowed("/v1/audit"), Some(vec!["POST"]));
        assert_eq!(table.allowed("/v1/blocks/latest"), Some(vec!["GET"]));
        assert_eq!(
            table.allowed("/v1/issuances/ab/approvals"),
            Some(vec!["POST"])
        );
        assert_eq!(table.allowed("/v1/nope"), None);
        assert_eq!(table.allowed("/v1/blocks//"), None);
        if let Ok(path) = std::env::var("CBDC_WRITE_OPENAPI") {
            std::fs::write(path, doc.to_pretty_json().unwrap()).unwrap();
        }
    }
}
