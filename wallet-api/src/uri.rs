//! The `cbdc:` payment URI (PROTOCOL.md §23): what a payee shows, as text or
//! as a QR code ([`crate::qr`]), for a payer's app to pay.
//!
//! ```text
//! cbdc:<address>?amount=<minor units>&ref=<reference>&req=<request id>&exp=<unix seconds>
//! ```
//!
//! [`PaymentUri`]'s `Display` writes the canonical form: the scheme in lower
//! case, the address as [`Address`] writes it (lower case), then the
//! parameters that are set, in the order above, `ref` percent-encoded with
//! upper-case hex. `FromStr` accepts the parameters in any order, upper or
//! lower hex in escapes, and an all-upper-case address or scheme, and refuses
//! everything else with a [`UriError`] whose `code` is stable. The checks run
//! in the order of PROTOCOL.md §23.4 and the first failure is reported.
//!
//! Invariants (the parser is fuzzed, and the tests check them):
//! - parsing never panics, on any input, and refuses an input longer than
//!   [`URI_LEN_MAX`] bytes before looking at it;
//! - every value that [`PaymentUri::check`] accepts round-trips:
//!   `u.to_string().parse() == Ok(u)`; the service writes no other value;
//! - every string `parse` accepts formats to its canonical form, which parses
//!   to the same value.

use core::fmt::{self, Write as _};
use core::str::FromStr;
use ledger_core::Address;

/// The scheme, as written; it is read case-insensitively (RFC 3986 §3.1).
pub const SCHEME: &str = "cbdc";

/// The longest URI accepted or written, in bytes. It keeps the QR code at
/// version 26 (121 modules) or below at error correction M, which a phone
/// camera still reads off a screen.
pub const URI_LEN_MAX: usize = 1024;

/// The largest `amount`: amounts are `BIGINT` in every database (PROTOCOL.md §4).
pub const AMOUNT_MAX: u64 = 9_223_372_036_854_775_807;

/// The most characters (Unicode scalar values, after percent-decoding) of a
/// `ref`. Non-ASCII references can be shorter still: each of their bytes is
/// written as three characters, and the whole URI must fit [`URI_LEN_MAX`].
pub const REFERENCE_CHARS_MAX: usize = 140;

/// A request id is this prefix and [`REQUEST_ID_HEX_LEN`] lower-case hex digits.
pub const REQUEST_ID_PREFIX: &str = "rq_";
pub const REQUEST_ID_HEX_LEN: usize = 32;

/// A payment URI.
///
/// The address is the parsed [`Address`] (so a value always holds a valid
/// one); the other fields are plain so that a caller can build a value, but
/// only a value that [`PaymentUri::check`] accepts formats to a URI that
/// parses back to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentUri {
    /// Who is paid.
    pub address: Address,
    /// Minor units, 1 to [`AMOUNT_MAX`]; `None` lets the payer enter it.
    pub amount: Option<u64>,
    /// Free text for the payer to see, 1 to [`REFERENCE_CHARS_MAX`]
    /// characters, no control characters.
    pub reference: Option<String>,
    /// The wallet API's payment request this URI pays (`rq_` + 32 hex).
    pub request_id: Option<String>,
    /// Seconds since 1970-01-01T00:00:00Z from which it may no longer be paid.
    pub expires_s: Option<u64>,
}

/// Why a URI, or a [`PaymentUri`], is refused.
///
/// `code` is one of the stable strings of PROTOCOL.md §23.4: `uri_too_long`,
/// `bad_scheme`, `bad_address`, `bad_query`, `unknown_parameter`,
/// `duplicate_parameter`, `bad_amount`, `bad_reference`, `bad_escape`,
/// `bad_request_id`, `bad_expiry`. `message` says what is wrong for a
/// developer; it never repeats a value (a reference may be personal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriError {
    pub code: &'static str,
    pub message: String,
}

impl UriError {
    fn new(code: &'static str, message: impl Into<String>) -> UriError {
        UriError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for UriError {}

impl PaymentUri {
    /// A URI that names only the payee.
    pub fn to_address(address: Address) -> PaymentUri {
        PaymentUri {
            address,
            amount: None,
            reference: None,
            request_id: None,
            expires_s: None,
        }
    }

    /// Whether the fields make a URI that parses back to `self`, with the
    /// code parsing would give: the length first, then each parameter in the
    /// order written.
    pub fn check(&self) -> Result<(), UriError> {
        if self.to_string().len() > URI_LEN_MAX {
            return Err(too_long());
        }
        if let Some(amount) = self.amount {
            check_amount(amount)?;
        }
        if let Some(reference) = &self.reference {
            check_reference(reference)?;
        }
        if let Some(request_id) = &self.request_id {
            check_request_id(request_id)?;
        }
        Ok(())
    }

    /// Whether the URI may no longer be paid at `now_s` (seconds since the
    /// epoch): from the second `exp` on. Without `exp` it never expires.
    pub fn is_expired(&self, now_s: u64) -> bool {
        self.expires_s.is_some_and(|expires_s| now_s >= expires_s)
    }
}

/// A reference's rule, for a caller that takes one from a user: 1 to
/// [`REFERENCE_CHARS_MAX`] characters, none of them a control character
/// (Unicode category Cc: U+0000–U+001F, U+007F–U+009F).
pub fn check_reference(reference: &str) -> Result<(), UriError> {
    let chars = reference.chars().count();
    if chars == 0 {
        return Err(UriError::new("bad_reference", "ref is empty"));
    }
    if chars > REFERENCE_CHARS_MAX {
        return Err(UriError::new(
            "bad_reference",
            format!("ref holds {chars} characters, at most {REFERENCE_CHARS_MAX} are allowed"),
        ));
    }
    if reference.chars().any(char::is_control) {
        return Err(UriError::new(
            "bad_reference",
            "ref holds a control character",
        ));
    }
    Ok(())
}

/// A request id's shape: `rq_` and 32 lower-case hex digits.
pub fn check_request_id(request_id: &str) -> Result<(), UriError> {
    let well_formed = request_id
        .strip_prefix(REQUEST_ID_PREFIX)
        .is_some_and(|hex| {
            hex.len() == REQUEST_ID_HEX_LEN
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
    if well_formed {
        Ok(())
    } else {
        Err(UriError::new(
            "bad_request_id",
            "req must be `rq_` and 32 lower-case hex digits",
        ))
    }
}

fn check_amount(amount: u64) -> Result<(), UriError> {
    if (1..=AMOUNT_MAX).contains(&amount) {
        Ok(())
    } else {
        Err(bad_amount())
    }
}

fn too_long() -> UriError {
    UriError::new(
        "uri_too_long",
        format!("a payment URI is at most {URI_LEN_MAX} bytes"),
    )
}

fn bad_amount() -> UriError {
    UriError::new(
        "bad_amount",
        format!(
            "amount must be minor units from 1 to {AMOUNT_MAX} in decimal, \
             without sign, leading zeros or spaces"
        ),
    )
}

impl fmt::Display for PaymentUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}:{}", self.address)?;
        let mut written = 0usize;
        let mut separator = |f: &mut fmt::Formatter<'_>| {
            written += 1;
            f.write_char(if written == 1 { '?' } else { '&' })
        };
        if let Some(amount) = self.amount {
            separator(f)?;
            write!(f, "amount={amount}")?;
        }
        if let Some(reference) = &self.reference {
            separator(f)?;
            f.write_str("ref=")?;
            percent_encode(reference, f)?;
        }
        if let Some(request_id) = &self.request_id {
            separator(f)?;
            write!(f, "req={request_id}")?;
        }
        if let Some(expires_s) = self.expires_s {
            separator(f)?;
            write!(f, "exp={expires_s}")?;
        }
        Ok(())
    }
}

impl FromStr for PaymentUri {
    type Err = UriError;

    fn from_str(text: &str) -> Result<PaymentUri, UriError> {
        if text.len() > URI_LEN_MAX {
            return Err(too_long());
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(UriError::new("bad_scheme", "not a URI: no `cbdc:` scheme"));
        };
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(UriError::new("bad_scheme", "the scheme is not `cbdc:`"));
        }
        let (address_text, query) = match rest.split_once('?') {
            Some((address_text, query)) => (address_text, Some(query)),
            None => (rest, None),
        };
        let mut uri = PaymentUri::to_address(parse_address(address_text)?);
        let Some(query) = query else {
            return Ok(uri);
        };
        if query.is_empty() {
            return Err(UriError::new(
                "bad_query",
                "`?` is followed by no parameter",
            ));
        }
        for parameter in query.split('&') {
            let Some((name, value)) = parameter.split_once('=') else {
                return Err(UriError::new(
                    "bad_query",
                    "a parameter is not `name=value` (an empty one, or no `=`)",
                ));
            };
            match name {
                "amount" => {
                    not_seen(&uri.amount, name)?;
                    uri.amount = Some(parse_amount(value)?);
                }
                "ref" => {
                    not_seen(&uri.reference, name)?;
                    let reference = percent_decode(value)?;
                    check_reference(&reference)?;
                    uri.reference = Some(reference);
                }
                "req" => {
                    not_seen(&uri.request_id, name)?;
                    check_request_id(value)?;
                    uri.request_id = Some(value.to_string());
                }
                "exp" => {
                    not_seen(&uri.expires_s, name)?;
                    uri.expires_s = Some(canonical_decimal(value).ok_or_else(|| {
                        UriError::new(
                            "bad_expiry",
                            "exp must be seconds since the epoch in decimal (at most \
                             2^64 - 1), without sign, leading zeros or spaces",
                        )
                    })?);
                }
                _ => {
                    let name = shortened(name);
                    return Err(UriError::new(
                        "unknown_parameter",
                        format!("unknown parameter {name:?}: only amount, ref, req and exp exist"),
                    ));
                }
            }
        }
        Ok(uri)
    }
}

/// The address, which must also be in its canonical encoding (zero padding
/// bits, PROTOCOL.md §5), so that one payee has one URI.
fn parse_address(text: &str) -> Result<Address, UriError> {
    let address: Address = text.parse().map_err(|error| {
        UriError::new(
            "bad_address",
            format!("the address is not a cbdc address: {error}"),
        )
    })?;
    if !address.to_string().eq_ignore_ascii_case(text) {
        return Err(UriError::new(
            "bad_address",
            "the address is not canonical: its padding bits are not zero",
        ));
    }
    Ok(address)
}

fn not_seen<T>(field: &Option<T>, name: &str) -> Result<(), UriError> {
    match field {
        None => Ok(()),
        Some(_) => Err(UriError::new(
            "duplicate_parameter",
            format!("{name} appears more than once"),
        )),
    }
}

fn parse_amount(text: &str) -> Result<u64, UriError> {
    let amount = canonical_decimal(text).ok_or_else(bad_amount)?;
    check_amount(amount)?;
    Ok(amount)
}

/// A `u64` in canonical decimal: ASCII digits only, no leading zero (but
/// `0` itself), no overflow.
fn canonical_decimal(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    // Only digits are left, so the parse fails on overflow alone.
    text.parse().ok()
}

/// RFC 3986 §2.3.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode(text: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for &byte in text.as_bytes() {
        if is_unreserved(byte) {
            f.write_char(char::from(byte))?;
        } else {
            write!(f, "%{byte:02X}")?;
        }
    }
    Ok(())
}

/// Unreserved characters stand for themselves and `%XX` (either case) for
/// the byte `XX`; anything else is refused, so `+` is never a space and a
/// raw `#` or non-ASCII character is not guessed at.
fn percent_decode(value: &str) -> Result<String, UriError> {
    let mut bytes = value.bytes();
    let mut decoded = Vec::with_capacity(value.len());
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = bytes.next().and_then(hex_digit);
            let low = bytes.next().and_then(hex_digit);
            let (Some(high), Some(low)) = (high, low) else {
                return Err(UriError::new(
                    "bad_escape",
                    "ref holds a `%` that is not followed by two hex digits",
                ));
            };
            decoded.push((high << 4) | low);
        } else if is_unreserved(byte) {
            decoded.push(byte);
        } else {
            return Err(UriError::new(
                "bad_reference",
                "ref may hold only letters, digits, `-`, `.`, `_`, `~` and %XX escapes",
            ));
        }
    }
    String::from_utf8(decoded)
        .map_err(|_| UriError::new("bad_escape", "ref's escapes do not decode to UTF-8"))
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// At most 32 characters of untrusted text, for a message.
fn shortened(text: &str) -> String {
    text.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::SecretKey;
    use proptest::prelude::*;

    /// The key whose secret is the integer `n` (little-endian), `n ≥ 1`.
    fn public_key(n: u64) -> ledger_core::PublicKey {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        SecretKey::from_bytes(&bytes)
            .expect("a small non-zero scalar")
            .public_key()
    }

    /// The golden vector's payee: spend key `1·B`, view key `2·B`.
    fn golden_address() -> Address {
        Address {
            spend: public_key(1),
            view: public_key(2),
        }
    }

    const GOLDEN_ADDRESS: &str = "cbdc1ute2uzn2h388r2yy49su2qz3tavwxzm25kpdmrdk5ev5tcyd94mx5jfjzrm5n8x30lkt2y9wpn4z8ggsar2mjq0c4jkaxz2uww3mjxgfsc9sp";

    /// PROTOCOL.md §23.6.
    const GOLDEN_URI: &str = "cbdc:cbdc1ute2uzn2h388r2yy49su2qz3tavwxzm25kpdmrdk5ev5tcyd94mx5jfjzrm5n8x30lkt2y9wpn4z8ggsar2mjq0c4jkaxz2uww3mjxgfsc9sp?amount=12345&ref=Invoice%202026-001%20Caf%C3%A9%20%E2%98%95&req=rq_00112233445566778899aabbccddeeff&exp=1767225600";

    fn golden() -> PaymentUri {
        PaymentUri {
            address: golden_address(),
            amount: Some(12345),
            reference: Some("Invoice 2026-001 Café ☕".to_string()),
            request_id: Some("rq_00112233445566778899aabbccddeeff".to_string()),
            expires_s: Some(1_767_225_600),
        }
    }

    fn code(text: &str) -> &'static str {
        match text.parse::<PaymentUri>() {
            Ok(uri) => panic!("{text:?} was accepted as {uri:?}"),
            Err(error) => error.code,
        }
    }

    fn with_query(query: &str) -> String {
        format!("cbdc:{GOLDEN_ADDRESS}?{query}")
    }

    #[test]
    fn golden_vector() {
        assert_eq!(golden_address().to_string(), GOLDEN_ADDRESS);
        assert_eq!(golden().check(), Ok(()));
        assert_eq!(golden().to_string(), GOLDEN_URI);
        assert_eq!(GOLDEN_URI.parse::<PaymentUri>(), Ok(golden()));
        // The keys are the basepoint and its double (RFC 9496 §A.1), so an
        // independent implementation can rebuild the address from nothing.
        assert_eq!(
            hex::encode(golden_address().spend.as_bytes()),
            "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
        );
        assert_eq!(
            hex::encode(golden_address().view.as_bytes()),
            "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919"
        );
    }

    #[test]
    fn address_alone() {
        let text = format!("cbdc:{GOLDEN_ADDRESS}");
        let uri = PaymentUri::to_address(golden_address());
        assert_eq!(uri.to_string(), text);
        assert_eq!(text.parse::<PaymentUri>(), Ok(uri));
    }

    #[test]
    fn any_order_upper_case_and_lower_hex_are_read_and_written_canonically() {
        let reordered = with_query(
            "exp=1767225600&req=rq_00112233445566778899aabbccddeeff\
             &ref=Invoice%202026-001%20Caf%c3%a9%20%e2%98%95&amount=12345",
        );
        assert_eq!(reordered.parse::<PaymentUri>(), Ok(golden()));
        let shouting = format!(
            "CBDC:{}?amount=12345&ref=Invoice%202026-001%20Caf%C3%A9%20%E2%98%95\
             &req=rq_00112233445566778899aabbccddeeff&exp=1767225600",
            GOLDEN_ADDRESS.to_uppercase()
        );
        assert_eq!(shouting.parse::<PaymentUri>(), Ok(golden()));
        assert_eq!(
            format!("Cbdc:{GOLDEN_ADDRESS}").parse::<PaymentUri>(),
            Ok(PaymentUri::to_address(golden_address()))
        );
        // An escaped unreserved character is read, and written plain.
        let uri: PaymentUri = with_query("ref=%41b").parse().unwrap();
        assert_eq!(uri.reference.as_deref(), Some("Ab"));
        assert_eq!(uri.to_string(), with_query("ref=Ab"));
    }

    #[test]
    fn non_ascii_references() {
        for reference in [
            "Café",
            "Счёт № 17",
            "請求書 2026",
            "🧾💶",
            "a+b=c & d/e?f#g%h",
            "~-._",
            "\u{202e}reversed", // a format character (Cf), not a control character
        ] {
            let uri = PaymentUri {
                reference: Some(reference.to_string()),
                ..PaymentUri::to_address(golden_address())
            };
            assert_eq!(uri.check(), Ok(()), "{reference}");
            let text = uri.to_string();
            assert!(text.is_ascii(), "{text}");
            let query = text.split_once('?').unwrap().1;
            assert!(
                query[4..]
                    .bytes()
                    .all(|b| is_unreserved(b) || b == b'%' || b.is_ascii_hexdigit()),
                "{text}"
            );
            assert_eq!(text.parse::<PaymentUri>(), Ok(uri), "{reference}");
        }
        assert_eq!(
            with_query("ref=%D0%A1%D1%87%D1%91%D1%82")
                .parse::<PaymentUri>()
                .unwrap()
                .reference
                .as_deref(),
            Some("Счёт")
        );
    }

    #[test]
    fn reference_length_counts_characters() {
        let longest = "é".repeat(REFERENCE_CHARS_MAX);
        assert_eq!(check_reference(&longest), Ok(()));
        assert_eq!(
            check_reference(&"a".repeat(REFERENCE_CHARS_MAX + 1))
                .unwrap_err()
                .code,
            "bad_reference"
        );
        let ascii = "a".repeat(REFERENCE_CHARS_MAX);
        assert!(with_query(&format!("ref={ascii}"))
            .parse::<PaymentUri>()
            .is_ok());
        assert_eq!(code(&with_query(&format!("ref={ascii}a"))), "bad_reference");
        // 140 two-byte characters are 840 escaped characters: with every
        // other parameter the URI is too long, and `check` says so first.
        let uri = PaymentUri {
            reference: Some("é".repeat(REFERENCE_CHARS_MAX)),
            ..golden()
        };
        assert_eq!(uri.check().unwrap_err().code, "uri_too_long");
        assert_eq!(code(&uri.to_string()), "uri_too_long");
    }

    #[test]
    fn every_refusal_has_its_code() {
        let lower = GOLDEN_ADDRESS;
        let cases: &[(String, &str)] = &[
            // Length, checked first.
            (format!("cbdc:{lower}?ref={}", "a".repeat(URI_LEN_MAX)), "uri_too_long"),
            ("x".repeat(URI_LEN_MAX + 1), "uri_too_long"),
            // Scheme.
            (String::new(), "bad_scheme"),
            (lower.to_string(), "bad_scheme"),
            (format!("bitcoin:{lower}"), "bad_scheme"),
            (format!("cbdc1:{lower}"), "bad_scheme"),
            (format!(" cbdc:{lower}"), "bad_scheme"),
            (format!("cbdç:{lower}"), "bad_scheme"),
            // Address.
            ("cbdc:".to_string(), "bad_address"),
            ("cbdc:?amount=1".to_string(), "bad_address"),
            (format!("cbdc://{lower}"), "bad_address"),
            (format!("cbdc: {lower}"), "bad_address"),
            (format!("cbdc:{lower}#frag"), "bad_address"),
            (format!("cbdc:{}", &lower[..lower.len() - 1]), "bad_address"),
            (format!("cbdc:{}q", &lower[..lower.len() - 1]), "bad_address"),
            (format!("cbdc:Cbdc1{}", &lower[5..]), "bad_address"),
            (format!("cbdc:{}Q0", &lower[..lower.len() - 2]), "bad_address"),
            // Query structure.
            (format!("cbdc:{lower}?"), "bad_query"),
            (format!("cbdc:{lower}?amount=1&"), "bad_query"),
            (format!("cbdc:{lower}?&amount=1"), "bad_query"),
            (format!("cbdc:{lower}?amount=1&&exp=2"), "bad_query"),
            (format!("cbdc:{lower}?amount"), "bad_query"),
            // Parameter names.
            (with_query("label=shop"), "unknown_parameter"),
            (with_query("AMOUNT=1"), "unknown_parameter"),
            (with_query("=1"), "unknown_parameter"),
            (with_query("amount%3D=1"), "unknown_parameter"),
            (with_query("amount=1&message=hi"), "unknown_parameter"),
            // Duplicates.
            (with_query("amount=1&amount=1"), "duplicate_parameter"),
            (with_query("ref=a&ref=b"), "duplicate_parameter"),
            (
                with_query("req=rq_00112233445566778899aabbccddeeff&req=rq_00112233445566778899aabbccddeeff"),
                "duplicate_parameter",
            ),
            (with_query("exp=1&amount=1&exp=1"), "duplicate_parameter"),
            (with_query("amount=1&amount=x"), "duplicate_parameter"),
            (with_query("amount=x&&"), "bad_amount"),
            // Amount.
            (with_query("amount="), "bad_amount"),
            (with_query("amount=0"), "bad_amount"),
            (with_query("amount=00"), "bad_amount"),
            (with_query("amount=012"), "bad_amount"),
            (with_query("amount=+12"), "bad_amount"),
            (with_query("amount=-12"), "bad_amount"),
            (with_query("amount=%2012"), "bad_amount"),
            (with_query("amount=12%20"), "bad_amount"),
            (with_query("amount=1.5"), "bad_amount"),
            (with_query("amount=1e3"), "bad_amount"),
            (with_query("amount=١٢"), "bad_amount"),
            (with_query("amount=9223372036854775808"), "bad_amount"),
            (with_query("amount=18446744073709551616"), "bad_amount"),
            (with_query("amount=1=2"), "bad_amount"),
            // Reference.
            (with_query("ref="), "bad_reference"),
            (with_query("ref=a+b"), "bad_reference"),
            (with_query("ref=a b"), "bad_reference"),
            (with_query("ref=a/b"), "bad_reference"),
            (with_query("ref=a#b"), "bad_reference"),
            (with_query("ref=café"), "bad_reference"),
            (with_query("ref=a=b"), "bad_reference"),
            (with_query("ref=%0A"), "bad_reference"),
            (with_query("ref=a%00"), "bad_reference"),
            (with_query("ref=%7F"), "bad_reference"),
            (with_query("ref=%C2%85"), "bad_reference"),
            // Escapes.
            (with_query("ref=%"), "bad_escape"),
            (with_query("ref=%4"), "bad_escape"),
            (with_query("ref=%G1"), "bad_escape"),
            (with_query("ref=a%2"), "bad_escape"),
            (with_query("ref=%%41"), "bad_escape"),
            (with_query("ref=%C3"), "bad_escape"),
            (with_query("ref=%FF"), "bad_escape"),
            (with_query("ref=%ED%A0%80"), "bad_escape"),
            (with_query("ref=%C0%AF"), "bad_escape"),
            // Request id.
            (with_query("req="), "bad_request_id"),
            (with_query("req=rq_"), "bad_request_id"),
            (with_query("req=rq_00112233445566778899aabbccddeef"), "bad_request_id"),
            (with_query("req=rq_00112233445566778899aabbccddeeff0"), "bad_request_id"),
            (with_query("req=rq_00112233445566778899AABBCCDDEEFF"), "bad_request_id"),
            (with_query("req=RQ_00112233445566778899aabbccddeeff"), "bad_request_id"),
            (with_query("req=rq-00112233445566778899aabbccddeeff"), "bad_request_id"),
            (with_query("req=rq_0011223344556677889%aabbccddeeff"), "bad_request_id"),
            (with_query("req=rq_00112233445566778899aabbccddeefg"), "bad_request_id"),
            (with_query("req=w_00112233445566778899aabbccddeeff"), "bad_request_id"),
            // Expiry.
            (with_query("exp="), "bad_expiry"),
            (with_query("exp=01"), "bad_expiry"),
            (with_query("exp=-1"), "bad_expiry"),
            (with_query("exp=+1"), "bad_expiry"),
            (with_query("exp=1.0"), "bad_expiry"),
            (with_query("exp=1767225600000000000000"), "bad_expiry"),
            (with_query("exp=18446744073709551616"), "bad_expiry"),
            (with_query("exp=2026-01-01"), "bad_expiry"),
        ];
        for (text, expected) in cases {
            assert_eq!(code(text), *expected, "{text:?}");
            let error = text.parse::<PaymentUri>().unwrap_err();
            assert!(!error.message.is_empty());
            assert_eq!(
                error.to_string(),
                format!("{}: {}", error.code, error.message)
            );
        }
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let uri: PaymentUri = with_query("amount=9223372036854775807&exp=18446744073709551615")
            .parse()
            .unwrap();
        assert_eq!(uri.amount, Some(AMOUNT_MAX));
        assert_eq!(uri.expires_s, Some(u64::MAX));
        assert_eq!(
            with_query("amount=1&exp=0")
                .parse::<PaymentUri>()
                .unwrap()
                .expires_s,
            Some(0)
        );
        let prefix = with_query("ref=");
        let longest = format!("{prefix}{}", "a".repeat(URI_LEN_MAX - prefix.len()));
        assert_eq!(longest.len(), URI_LEN_MAX);
        // At the length limit the reference's own limit still applies.
        assert_eq!(code(&longest), "bad_reference");
        let fits = format!(
            "{}{}",
            with_query("ref="),
            "%41".repeat(REFERENCE_CHARS_MAX)
        );
        assert!(fits.parse::<PaymentUri>().is_ok());
    }

    /// Bech32m (BIP-350) of `hrp` and 5-bit `data`, written out here so that
    /// the tests do not trust the encoder they check.
    fn bech32m(hrp: &str, data: &[u8]) -> String {
        const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        const GENERATOR: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
        values.push(0);
        values.extend(hrp.bytes().map(|b| b & 31));
        values.extend_from_slice(data);
        values.extend_from_slice(&[0; 6]);
        let mut check: u32 = 1;
        for value in values {
            let top = check >> 25;
            check = ((check & 0x1ff_ffff) << 5) ^ u32::from(value);
            for (i, generator) in GENERATOR.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    check ^= generator;
                }
            }
        }
        let checksum = check ^ 0x2bc8_30a3;
        let mut out = format!("{hrp}1");
        out.extend(data.iter().map(|&d| char::from(CHARSET[usize::from(d)])));
        out.extend((0..6).rev().map(|i| {
            let group = usize::try_from((checksum >> (5 * i)) & 31).unwrap();
            char::from(CHARSET[group])
        }));
        out
    }

    /// Bytes as 5-bit groups, the last one padded with zero bits.
    fn five_bit_groups(bytes: &[u8]) -> Vec<u8> {
        let mut groups = Vec::new();
        let (mut accumulator, mut bits) = (0u32, 0u32);
        for &byte in bytes {
            accumulator = (accumulator << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                groups.push(u8::try_from((accumulator >> bits) & 31).unwrap());
            }
        }
        if bits > 0 {
            groups.push(u8::try_from((accumulator << (5 - bits)) & 31).unwrap());
        }
        groups
    }

    #[test]
    fn the_golden_address_is_bech32m_of_the_two_keys() {
        let groups = five_bit_groups(&golden_address().to_bytes());
        assert_eq!(groups.len(), 103);
        assert_eq!(bech32m("cbdc", &groups), GOLDEN_ADDRESS);
        assert_eq!(GOLDEN_ADDRESS.len(), 114);
    }

    #[test]
    fn a_non_canonical_address_is_refused() {
        // The same 64 bytes with a padding bit set (the last group holds 2
        // bits of data and 3 of padding): `Address::from_str` reads the same
        // keys from it, so only the canonical check refuses it.
        let mut groups = five_bit_groups(&golden_address().to_bytes());
        *groups.last_mut().unwrap() |= 1;
        let text = bech32m("cbdc", &groups);
        assert_eq!(text.parse::<Address>(), Ok(golden_address()));
        assert_eq!(code(&format!("cbdc:{text}")), "bad_address");
        assert_eq!(
            code(&format!("cbdc:{}", text.to_uppercase())),
            "bad_address"
        );
    }

    #[test]
    fn expiry_is_from_the_second_on() {
        let uri = golden();
        assert!(!uri.is_expired(1_767_225_599));
        assert!(uri.is_expired(1_767_225_600));
        assert!(!PaymentUri::to_address(golden_address()).is_expired(u64::MAX));
    }

    #[test]
    fn check_refuses_what_would_not_parse() {
        let base = golden();
        let cases = [
            (
                PaymentUri {
                    amount: Some(0),
                    ..base.clone()
                },
                "bad_amount",
            ),
            (
                PaymentUri {
                    amount: Some(AMOUNT_MAX + 1),
                    ..base.clone()
                },
                "bad_amount",
            ),
            (
                PaymentUri {
                    reference: Some(String::new()),
                    ..base.clone()
                },
                "bad_reference",
            ),
            (
                PaymentUri {
                    reference: Some("a\nb".into()),
                    ..base.clone()
                },
                "bad_reference",
            ),
            (
                PaymentUri {
                    request_id: Some("rq_1".into()),
                    ..base.clone()
                },
                "bad_request_id",
            ),
            (
                PaymentUri {
                    request_id: Some("rq_00112233445566778899aabbccddeeff&amount=1".into()),
                    ..base.clone()
                },
                "bad_request_id",
            ),
        ];
        for (uri, expected) in cases {
            assert_eq!(uri.check().unwrap_err().code, expected, "{uri:?}");
            assert!(
                uri.to_string().parse::<PaymentUri>() != Ok(uri.clone()),
                "{uri:?}"
            );
        }
    }

    fn reference_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            any::<char>().prop_filter("a control character", |c| !c.is_control()),
            1..=REFERENCE_CHARS_MAX,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn payment_uri_strategy() -> impl Strategy<Value = PaymentUri> {
        (
            1u64..1000,
            1u64..1000,
            proptest::option::of(1..=AMOUNT_MAX),
            proptest::option::of(prop_oneof![
                reference_strategy(),
                "[ -~]{1,140}",
                "[a-zA-Z0-9._~-]{1,20}",
            ]),
            proptest::option::of("rq_[0-9a-f]{32}"),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(spend, view, amount, reference, request_id, expires_s)| {
                PaymentUri {
                    address: Address {
                        spend: public_key(spend),
                        view: public_key(view),
                    },
                    amount,
                    reference,
                    request_id,
                    expires_s,
                }
            })
    }

    proptest! {
        #[test]
        fn checked_values_round_trip(uri in payment_uri_strategy()) {
            let text = uri.to_string();
            match uri.check() {
                Ok(()) => {
                    prop_assert!(text.len() <= URI_LEN_MAX);
                    prop_assert_eq!(text.parse::<PaymentUri>(), Ok(uri.clone()));
                    // Read in any order, the same value.
                    let (head, query) = text.split_once('?').unwrap_or((text.as_str(), ""));
                    if !query.is_empty() {
                        let reversed: Vec<&str> = query.split('&').rev().collect();
                        let reordered = format!("{head}?{}", reversed.join("&"));
                        prop_assert_eq!(reordered.parse::<PaymentUri>(), Ok(uri.clone()));
                    }
                    let shouting = format!("CBDC:{}{}", uri.address.to_string().to_uppercase(),
                        &text[head.len()..]);
                    prop_assert_eq!(shouting.parse::<PaymentUri>(), Ok(uri));
                }
                Err(error) => {
                    prop_assert_eq!(error.code, "uri_too_long");
                    prop_assert_eq!(text.parse::<PaymentUri>().unwrap_err().code, "uri_too_long");
                }
            }
        }

        #[test]
        fn parsing_any_text_never_panics_and_what_parses_is_canonicalised(
            text in prop_oneof![
                any::<String>(),
                "cbdc:[a-z0-9?&=%]{0,200}",
                "(?i)cbdc:cbdc1[a-z0-9]{0,120}(\\?((amount|ref|req|exp|x)=[0-9a-fA-F%rq_]{0,40}&?){0,6})?",
            ]
        ) {
            if let Ok(uri) = text.parse::<PaymentUri>() {
                prop_assert_eq!(uri.check(), Ok(()));
                let canonical = uri.to_string();
                prop_assert_eq!(canonical.parse::<PaymentUri>(), Ok(uri));
            }
        }

        #[test]
        fn every_edit_of_a_valid_uri_is_refused_or_canonical(
            uri in payment_uri_strategy(),
            position in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            edit in 0u8..3,
        ) {
            let mut bytes = uri.to_string().into_bytes();
            let at = position.index(bytes.len());
            match edit {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
            if let Ok(text) = String::from_utf8(bytes) {
                if let Ok(parsed) = text.parse::<PaymentUri>() {
                    prop_assert_eq!(parsed.check(), Ok(()));
                    prop_assert_eq!(parsed.to_string().parse::<PaymentUri>(), Ok(parsed));
                }
            }
        }
    }
}
