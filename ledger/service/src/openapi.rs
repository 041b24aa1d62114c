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
            documented per route. Amounts are integers of minor units; a number written \
            with a fraction or exponent is taken as an integer when it is one exactly and at \
            most 2^53 in magnitude (`5.0`, `1e3`), and refused with `invalid_json` otherwise.",
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

/// Finishes the document once the routes' schemas are in it: the core
/// refuses unknown fields in a governance action, and utoipa does not carry
/// `deny_unknown_fields` into the variants of a tagged enum, so the variants
/// of `Action` are closed here.
pub fn close_actions(doc: &mut Document) {
    {
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut("Action") {
            for item in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = item {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The JSON shapes of the ledger-core types, for the document only.
///
/// Objects the core refuses with unknown fields are `additionalProperties:
/// false` here; the transaction kinds are whole objects (their `kind` a
/// constant) rather than `allOf` compositions, so that holds for them too.
/// Integers may be written `5.0` when exact (see `api::parse_json`): JSON
/// Schema's `integer` admits them too.
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

    /// A participant id: 1 to 64 characters of `A-Z a-z 0-9 - _`.
    #[derive(ToSchema)]
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub struct ParticipantId(String);

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
    pub struct OfficerSignature {
        officer: Hex32,
        signature: SignatureHex,
    }

    /// An output of an issue: amount and blinding are public.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct IssueOutput {
        owner: Hex32,
        #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
        value: u64,
        /// The public blinding scalar.
        blinding: Hex32,
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

    /// A participant as a governance entry names it.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Member {
        role: Role,
        id: ParticipantId,
        /// 1 to 200 bytes of UTF-8 without control characters.
        #[schema(min_length = 1, max_length = 200)]
        name: String,
        key: Hex32,
        view_key: Option<Hex32>,
    }

    /// What a governance entry does.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    #[serde(tag = "type", deny_unknown_fields)]
    pub enum Action {
        Genesis {
            ledger_key: Hex32,
            #[schema(minimum = 1, maximum = 255)]
            threshold: u8,
            #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
            supply_ceiling: u64,
            #[schema(min_items = 1, max_items = 32)]
            members: Vec<Member>,
        },
        Admit {
            member: Member,
        },
        Suspend {
            id: ParticipantId,
        },
        Reinstate {
            id: ParticipantId,
        },
        Rekey {
            id: ParticipantId,
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
    #[serde(deny_unknown_fields)]
    pub struct Governance {
        /// How many governance entries the journal holds before this one.
        #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
        sequence: u64,
        action: Action,
        /// May be omitted when empty.
        #[schema(required = false, max_items = 32)]
        approvals: Vec<OfficerSignature>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum IssueKind {
        Issue,
    }
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum TransferKind {
        Transfer,
    }
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum RedeemKind {
        Redeem,
    }
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub enum GovernanceKind {
        Governance,
    }

    /// Money created by the central bank: M-of-N officer signatures over its
    /// digest (as a proposal shows it, before the officers sign).
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Issue {
        /// 32 bytes, unique per issue.
        reference: Hex32,
        #[schema(min_items = 1, max_items = 16)]
        outputs: Vec<IssueOutput>,
        #[schema(max_items = 32)]
        officer_signatures: Vec<OfficerSignature>,
    }

    /// An issue as a transaction of the journal.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct IssueTransaction {
        kind: IssueKind,
        /// 32 bytes, unique per issue.
        reference: Hex32,
        #[schema(min_items = 1, max_items = 16)]
        outputs: Vec<IssueOutput>,
        #[schema(max_items = 32)]
        officer_signatures: Vec<OfficerSignature>,
    }

    /// A payment between holders: inputs spent, outputs created.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Transfer {
        kind: TransferKind,
        #[schema(min_items = 1, max_items = 16)]
        inputs: Vec<Hex32>,
        /// Zero for a transfer.
        #[schema(minimum = 0, maximum = 0)]
        burned: u64,
        #[schema(max_items = 16)]
        outputs: Vec<Output>,
        /// Present exactly when there are outputs.
        range_proof: Option<BytesHex>,
        kernel: Kernel,
        /// One per input, in input order.
        #[schema(min_items = 1, max_items = 16)]
        owner_signatures: Vec<SignatureHex>,
    }

    /// A bank takes `burned` out of circulation (change in `outputs`).
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Redeem {
        kind: RedeemKind,
        #[schema(min_items = 1, max_items = 16)]
        inputs: Vec<Hex32>,
        /// The public amount destroyed.
        #[schema(minimum = 1, maximum = 18446744073709551615_u64)]
        burned: u64,
        #[schema(max_items = 16)]
        outputs: Vec<Output>,
        /// Present exactly when there are outputs.
        range_proof: Option<BytesHex>,
        kernel: Kernel,
        /// One per input, in input order.
        #[schema(min_items = 1, max_items = 16)]
        owner_signatures: Vec<SignatureHex>,
    }

    /// A governance entry as a transaction of the journal.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct GovernanceTransaction {
        kind: GovernanceKind,
        #[schema(minimum = 0, maximum = 18446744073709551615_u64)]
        sequence: u64,
        action: Action,
        #[schema(required = false, max_items = 32)]
        approvals: Vec<OfficerSignature>,
    }

    /// A transaction of the journal: `kind` names which, every binary value
    /// is lowercase hex.
    #[derive(ToSchema)]
    #[serde(untagged)]
    pub enum Transaction {
        Issue(IssueTransaction),
        Transfer(Transfer),
        Redeem(Redeem),
        Governance(GovernanceTransaction),
    }

    /// What a bank submits: a transfer or a redeem (issues and governance
    /// entries reach the journal through their own routes).
    #[derive(ToSchema)]
    #[serde(untagged)]
    pub enum BankTransaction {
        Transfer(Transfer),
        Redeem(Redeem),
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
