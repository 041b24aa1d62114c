#!/usr/bin/env python3
"""Signs and sends requests to a cbdc ledger: a reference signer in pure Python.

Every request under /v1 carries four headers (PROTOCOL.md, "Signed requests"):

    x-cbdc-key        the caller's public key, 64 lowercase hex characters
    x-cbdc-timestamp  milliseconds since the Unix epoch, decimal
    x-cbdc-nonce      16 fresh random bytes, 32 lowercase hex characters
    x-cbdc-signature  R || s, 128 lowercase hex characters

The signature is a Schnorr signature on ristretto255 whose challenge comes from
a merlin transcript, on the 32-byte message

    SHA-256("cbdc.request.v1" || method || 0x00 || path-and-query || 0x00
            || SHA-256(body) || LE64(timestamp) || nonce)

This file implements, from their specifications and with the standard library
only, exactly what that needs: Keccak-f[1600] (FIPS 202), the part of STROBE-128
merlin uses, merlin's transcript, arithmetic modulo the group order, Edwards25519
points, and ristretto255's encoding and decoding (RFC 9496).

It is a reference, not a production signer: Python integers are not constant
time, so the secret key's bits can leak through timing. Use it to understand,
test and interoperate; sign from a hardened implementation in production.

Usage:

    cbdc_request.py --ledger http://127.0.0.1:7400 --key officer.json GET /v1/supply
    cbdc_request.py --key officer.json --body req.json POST /v1/issuances
    cbdc_request.py --key officer.json --print-headers GET /v1/supply
    cbdc_request.py --check-vectors ledger/service/tests/vectors/signed_request.json
"""

import argparse
import hashlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# --------------------------------------------------------------------------
# Keccak-f[1600] (FIPS 202, section 3). The state is 200 bytes, read as 25
# little-endian 64-bit lanes, lane (x, y) at index x + 5*y.

_MASK64 = (1 << 64) - 1


def _round_constants():
    """The 24 iota constants, from the LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, 3.2.5)."""
    bits = []
    r = 1
    for _ in range(7 * 24):
        bits.append(r & 1)
        r <<= 1
        if r & 0x100:
            r ^= 0x171
    constants = []
    for round_index in range(24):
        rc = 0
        for j in range(7):
            rc |= bits[j + 7 * round_index] << ((1 << j) - 1)
        constants.append(rc)
    return constants


def _rotation_offsets():
    """The rho offsets (FIPS 202, 3.2.2): lane (1, 0) first, then (x, y) -> (y, 2x + 3y)."""
    offsets = [0] * 25
    x, y = 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


_ROUND_CONSTANTS = _round_constants()
_ROTATIONS = _rotation_offsets()


def _rotl64(v, n):
    return ((v << n) | (v >> (64 - n))) & _MASK64 if n else v


def keccak_f1600(state):
    """Applies the permutation to a bytearray of 200 bytes, in place."""
    a = [int.from_bytes(state[8 * i : 8 * i + 8], "little") for i in range(25)]
    for rc in _ROUND_CONSTANTS:
        # theta
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rotl64(c[(x + 1) % 5], 1) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        # rho and pi: B[y, 2x + 3y] = rot(A[x, y])
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rotl64(a[x + 5 * y], _ROTATIONS[x + 5 * y])
        # chi
        a = [
            b[i] ^ ((b[(i % 5 + 1) % 5 + 5 * (i // 5)] ^ _MASK64) & b[(i % 5 + 2) % 5 + 5 * (i // 5)])
            for i in range(25)
        ]
        # iota
        a[0] ^= rc
    for i in range(25):
        state[8 * i : 8 * i + 8] = a[i].to_bytes(8, "little")


def _sha3_256_with_our_keccak(data):
    """SHA3-256 on keccak_f1600, only to check the permutation against hashlib."""
    rate = 136
    room = rate - len(data) % rate  # pad10*1 with the SHA-3 suffix 01: 1 to rate bytes
    if room == 1:
        padded = bytearray(data) + b"\x86"
    else:
        padded = bytearray(data) + b"\x06" + bytes(room - 2) + b"\x80"
    state = bytearray(200)
    for start in range(0, len(padded), rate):
        for i in range(rate):
            state[i] ^= padded[start + i]
        keccak_f1600(state)
    return bytes(state[:32])


# --------------------------------------------------------------------------
# STROBE-128, the operations merlin uses (meta-AD, AD, PRF), as in the STROBE
# specification v1.0.2 with security level 128: rate R = 200 - 2*16 - 2 = 166.

_STROBE_R = 166
_FLAG_I, _FLAG_A, _FLAG_C, _FLAG_T, _FLAG_M, _FLAG_K = 1, 2, 4, 8, 16, 32


class Strobe128:
    def __init__(self, protocol_label):
        self.state = bytearray(200)
        self.state[0:6] = bytes([1, _STROBE_R + 2, 1, 0, 1, 96])
        self.state[6:18] = b"STROBEv1.0.2"
        keccak_f1600(self.state)
        self.pos = 0
        self.pos_begin = 0
        self.cur_flags = 0
        self.meta_ad(protocol_label, False)

    def _run_f(self):
        self.state[self.pos] ^= self.pos_begin
        self.state[self.pos + 1] ^= 0x04
        self.state[_STROBE_R + 1] ^= 0x80
        keccak_f1600(self.state)
        self.pos = 0
        self.pos_begin = 0

    def _absorb(self, data):
        for byte in data:
            self.state[self.pos] ^= byte
            self.pos += 1
            if self.pos == _STROBE_R:
                self._run_f()

    def _squeeze(self, n):
        out = bytearray()
        for _ in range(n):
            out.append(self.state[self.pos])
            self.state[self.pos] = 0
            self.pos += 1
            if self.pos == _STROBE_R:
                self._run_f()
        return bytes(out)

    def _begin_op(self, flags, more):
        if more:
            # A continued operation: same flags, nothing absorbed.
            assert self.cur_flags == flags, "a continued STROBE operation changed its flags"
            return
        assert flags & _FLAG_T == 0, "merlin never uses transport operations"
        old_begin = self.pos_begin
        self.pos_begin = self.pos + 1
        self.cur_flags = flags
        self._absorb(bytes([old_begin, flags]))
        if flags & (_FLAG_C | _FLAG_K) and self.pos != 0:
            self._run_f()

    def meta_ad(self, data, more):
        self._begin_op(_FLAG_M | _FLAG_A, more)
        self._absorb(data)

    def ad(self, data, more):
        self._begin_op(_FLAG_A, more)
        self._absorb(data)

    def prf(self, n, more):
        self._begin_op(_FLAG_I | _FLAG_A | _FLAG_C, more)
        return self._squeeze(n)


# --------------------------------------------------------------------------
# merlin transcripts (https://merlin.cool), version "Merlin v1.0".


class Transcript:
    def __init__(self, label):
        self.strobe = Strobe128(b"Merlin v1.0")
        self.append_message(b"dom-sep", label)

    def append_message(self, label, message):
        self.strobe.meta_ad(label, False)
        self.strobe.meta_ad(len(message).to_bytes(4, "little"), True)
        self.strobe.ad(message, False)

    def challenge_bytes(self, label, n):
        self.strobe.meta_ad(label, False)
        self.strobe.meta_ad(n.to_bytes(4, "little"), True)
        return self.strobe.prf(n, False)


# --------------------------------------------------------------------------
# Scalars modulo the group order, and the field GF(2^255 - 19).

GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def scalar_from_canonical(b):
    """A 32-byte little-endian scalar, which must be below the group order."""
    x = int.from_bytes(b, "little")
    if len(b) != 32 or x >= GROUP_ORDER:
        raise ValueError("not a canonical scalar")
    return x


def scalar_bytes(x):
    return (x % GROUP_ORDER).to_bytes(32, "little")


def _is_negative(x):
    return (x % _P) & 1


def _abs(x):
    x %= _P
    return _P - x if x & 1 else x


def _sqrt_ratio_m1(u, v):
    """RFC 9496, 4.2: (was_square, the non-negative sqrt(u/v) or sqrt(i*u/v))."""
    u %= _P
    v %= _P
    v3 = v * v * v % _P
    v7 = v3 * v3 * v % _P
    r = u * v3 % _P * pow(u * v7 % _P, (_P - 5) // 8, _P) % _P
    check = v * r * r % _P
    correct_sign = check == u
    flipped_sign = check == (-u) % _P
    flipped_sign_i = check == (-u * _SQRT_M1) % _P
    if flipped_sign or flipped_sign_i:
        r = r * _SQRT_M1 % _P
    return correct_sign or flipped_sign, _abs(r)


_SQRT_M1 = _abs(pow(2, (_P - 1) // 4, _P))  # 2 is not a square mod p, so this squares to -1
assert _SQRT_M1 * _SQRT_M1 % _P == _P - 1
_INVSQRT_A_MINUS_D = _sqrt_ratio_m1(1, (-1 - _D) % _P)[1]  # a = -1

# --------------------------------------------------------------------------
# Edwards25519 (-x^2 + y^2 = 1 + d x^2 y^2) in extended coordinates
# (X : Y : Z : T) with x = X/Z, y = Y/Z, x*y = T/Z; ristretto255 on top.

_IDENTITY = (0, 1, 1, 0)


def _add(p, q):
    """Unified addition (Hisil-Wong-Carter-Dawson 2008, a = -1): complete, also doubles."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * 2 * _D * t2 % _P
    d = z1 * 2 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _neg(p):
    x, y, z, t = p
    return (-x % _P, y, z, -t % _P)


def _mul(k, p):
    """k*p by double-and-add: variable time."""
    result = _IDENTITY
    for bit in bin(k)[2:]:
        result = _add(result, result)
        if bit == "1":
            result = _add(result, p)
    return result


def _basepoint():
    y = 4 * pow(5, _P - 2, _P) % _P
    was_square, x = _sqrt_ratio_m1(y * y - 1, _D * y * y + 1)  # x is the non-negative root
    assert was_square
    return (x, y, 1, x * y % _P)


BASEPOINT = _basepoint()


def ristretto_encode(p):
    """RFC 9496, 4.3.2."""
    x0, y0, z0, t0 = p
    u1 = (z0 + y0) * (z0 - y0) % _P
    u2 = x0 * y0 % _P
    _, invsqrt = _sqrt_ratio_m1(1, u1 * u2 * u2)
    den1 = invsqrt * u1 % _P
    den2 = invsqrt * u2 % _P
    z_inv = den1 * den2 * t0 % _P
    ix0 = x0 * _SQRT_M1 % _P
    iy0 = y0 * _SQRT_M1 % _P
    enchanted_denominator = den1 * _INVSQRT_A_MINUS_D % _P
    rotate = _is_negative(t0 * z_inv)
    x, y = (iy0, ix0) if rotate else (x0, y0)
    den_inv = enchanted_denominator if rotate else den2
    if _is_negative(x * z_inv):
        y = -y
    s = _abs(den_inv * (z0 - y))
    return s.to_bytes(32, "little")


def ristretto_decode(b):
    """RFC 9496, 4.3.1; None for a non-canonical encoding."""
    s = int.from_bytes(b, "little")
    if len(b) != 32 or s >= _P or _is_negative(s):
        return None
    ss = s * s % _P
    u1 = (1 - ss) % _P
    u2 = (1 + ss) % _P
    u2_sqr = u2 * u2 % _P
    v = (-(_D * u1 * u1) - u2_sqr) % _P
    was_square, invsqrt = _sqrt_ratio_m1(1, v * u2_sqr)
    den_x = invsqrt * u2 % _P
    den_y = invsqrt * den_x * v % _P
    x = _abs(2 * s * den_x)
    y = u1 * den_y % _P
    t = x * y % _P
    if not was_square or _is_negative(t) or y == 0:
        return None
    return (x, y, 1, t)


BASEPOINT_BYTES = ristretto_encode(BASEPOINT)
IDENTITY_BYTES = bytes(32)

# --------------------------------------------------------------------------
# Schnorr signatures of PROTOCOL.md section 6, purpose "request", generator B.


def schnorr_challenge(purpose, public, message, r):
    """c: merlin("cbdc.schnorr.v1") over purpose, G, P, message, R; 64 bytes mod the order."""
    t = Transcript(b"cbdc.schnorr.v1")
    t.append_message(b"purpose", purpose)
    t.append_message(b"G", BASEPOINT_BYTES)
    t.append_message(b"P", public)
    t.append_message(b"message", message)
    t.append_message(b"R", r)
    return int.from_bytes(t.challenge_bytes(b"c", 64), "little") % GROUP_ORDER


def public_key(secret):
    return ristretto_encode(_mul(secret, BASEPOINT))


def sign(secret, message, purpose=b"request"):
    """R || s with R = k*B, s = k + c*x; k from fresh randomness hashed with the secret
    and the message (a weak random source alone does not expose the key)."""
    public = public_key(secret)
    while True:
        seed = hashlib.sha512(
            b"cbdc.python.schnorr.nonce.v1"
            + scalar_bytes(secret)
            + public
            + message
            + secrets.token_bytes(32)
        ).digest()
        k = int.from_bytes(seed, "little") % GROUP_ORDER
        if k != 0:
            break
    r = ristretto_encode(_mul(k, BASEPOINT))
    c = schnorr_challenge(purpose, public, message, r)
    return r + scalar_bytes(k + c * secret)


def verify(public, message, signature, purpose=b"request"):
    """Accepts iff s*B - c*P encodes to R, as the ledger checks it."""
    if len(signature) != 64:
        return False
    p = ristretto_decode(public)
    r = signature[:32]
    if p is None or public == IDENTITY_BYTES or ristretto_decode(r) is None or r == IDENTITY_BYTES:
        return False
    try:
        s = scalar_from_canonical(signature[32:])
    except ValueError:
        return False
    c = schnorr_challenge(purpose, public, message, r)
    return ristretto_encode(_add(_mul(s, BASEPOINT), _neg(_mul(c, p)))) == r


# --------------------------------------------------------------------------
# Signed requests.


def request_message_preimage(method, path_and_query, body, timestamp_ms, nonce):
    return (
        b"cbdc.request.v1"
        + method.encode("ascii")
        + b"\x00"
        + path_and_query.encode("ascii")
        + b"\x00"
        + hashlib.sha256(body).digest()
        + timestamp_ms.to_bytes(8, "little")
        + nonce
    )


def request_message(method, path_and_query, body, timestamp_ms, nonce):
    """The 32 bytes a request's signature signs."""
    return hashlib.sha256(
        request_message_preimage(method, path_and_query, body, timestamp_ms, nonce)
    ).digest()


def sign_request(secret, method, path_and_query, body, timestamp_ms=None, nonce=None):
    """The four headers, as a dict, for a request signed now with a fresh nonce."""
    if timestamp_ms is None:
        timestamp_ms = time.time_ns() // 1_000_000
    if nonce is None:
        nonce = secrets.token_bytes(16)
    message = request_message(method, path_and_query, body, timestamp_ms, nonce)
    return {
        "x-cbdc-key": public_key(secret).hex(),
        "x-cbdc-timestamp": str(timestamp_ms),
        "x-cbdc-nonce": nonce.hex(),
        "x-cbdc-signature": sign(secret, message).hex(),
    }


def load_secret(path):
    """The signing key of a `cbdc keygen` file: a signing key's "secret", or a
    wallet's "spend" key (which signs a bank's requests)."""
    with open(path, encoding="utf-8") as f:
        key = json.load(f)
    field = {"signing": "secret", "wallet": "spend"}.get(key.get("kind"))
    if field is None:
        raise ValueError(f"{path} is not a cbdc key file (kind must be signing or wallet)")
    secret = scalar_from_canonical(bytes.fromhex(key[field]))
    if secret == 0:
        raise ValueError(f"{path}: the secret key is zero")
    recorded = key.get("public") if field == "secret" else key.get("spend_public")
    if recorded is not None and recorded != public_key(secret).hex():
        raise ValueError(f"{path}: the public key does not match the secret key")
    return secret


# --------------------------------------------------------------------------
# Checking the vector file.


def _self_test():
    """The primitives against what the standard library and RFC 9496 fix."""
    for data in (b"", b"abc", bytes(135), bytes(136), bytes(range(256)) * 3):
        assert _sha3_256_with_our_keccak(data) == hashlib.sha3_256(data).digest(), "Keccak-f"
    assert BASEPOINT_BYTES.hex() == (
        "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
    ), "ristretto255 basepoint (RFC 9496, A.1)"
    assert ristretto_encode(_mul(GROUP_ORDER, BASEPOINT)) == IDENTITY_BYTES, "group order"
    assert ristretto_encode(ristretto_decode(BASEPOINT_BYTES)) == BASEPOINT_BYTES


def check_vectors(path):
    """Checks every case of the vector file; returns the number of failures."""
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)
    failures = 0

    def check(what, ok):
        nonlocal failures
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures += 1

    try:
        _self_test()
        check("self-test: Keccak-f[1600] against hashlib, the ristretto255 basepoint", True)
    except AssertionError as error:
        check(f"self-test: {error}", False)

    check("constants: basepoint", vectors["basepoint"] == BASEPOINT_BYTES.hex())
    check("constants: group order", int(vectors["group_order"]) == GROUP_ORDER)

    for case in vectors["transcripts"]:
        t = Transcript(case["label"].encode())
        ok = True
        for op in case["operations"]:
            if op["op"] == "append_message":
                t.append_message(op["label"].encode(), bytes.fromhex(op["message"]))
            else:
                ok &= t.challenge_bytes(op["label"].encode(), op["length"]).hex() == op["output"]
        check(f"transcript: {case['description']}", ok)

    for case in vectors["cases"]:
        name = case["description"]
        secret = scalar_from_canonical(bytes.fromhex(case["secret"]))
        public = bytes.fromhex(case["public"])
        body = bytes.fromhex(case["body_hex"])
        if "body_utf8" in case:
            check(f"{name}: body_utf8 is body_hex", case["body_utf8"].encode() == body)
        nonce = bytes.fromhex(case["nonce"])
        ts = case["timestamp_ms"]
        method, target = case["method"], case["path_and_query"]
        check(f"{name}: public key = secret * B", public_key(secret) == public)
        check(f"{name}: body_sha256", hashlib.sha256(body).hexdigest() == case["body_sha256"])
        preimage = request_message_preimage(method, target, body, ts, nonce)
        check(f"{name}: message preimage", preimage.hex() == case["message_preimage"])
        message = request_message(method, target, body, ts, nonce)
        check(f"{name}: message", message.hex() == case["message"])
        signature = bytes.fromhex(case["signature"])
        r, s = signature[:32], signature[32:]
        t = Transcript(b"cbdc.schnorr.v1")
        for label, value in [
            (b"purpose", b"request"),
            (b"G", BASEPOINT_BYTES),
            (b"P", public),
            (b"message", message),
            (b"R", r),
        ]:
            t.append_message(label, value)
        wide = t.challenge_bytes(b"c", 64)
        check(f"{name}: challenge bytes", wide.hex() == case["challenge_bytes"])
        c = schnorr_challenge(b"request", public, message, r)
        check(f"{name}: challenge c", scalar_bytes(c).hex() == case["challenge"])
        k = scalar_from_canonical(bytes.fromhex(case["k"]))
        check(f"{name}: R = k * B", ristretto_encode(_mul(k, BASEPOINT)) == r)
        check(f"{name}: s = k + c * x", scalar_bytes(k + c * secret) == s)
        check(f"{name}: signature verifies", verify(public, message, signature))
        check(
            f"{name}: another purpose does not verify",
            not verify(public, message, signature, purpose=b"owner"),
        )
        ours = sign(secret, message)
        check(f"{name}: a fresh signature of ours verifies", verify(public, message, ours))
        expected = {
            "x-cbdc-key": case["public"],
            "x-cbdc-timestamp": str(ts),
            "x-cbdc-nonce": case["nonce"],
            "x-cbdc-signature": case["signature"],
        }
        check(f"{name}: headers", case["headers"] == expected)
        fresh = sign_request(secret, method, target, body, ts, nonce)
        check(
            f"{name}: our headers verify",
            fresh["x-cbdc-key"] == case["public"]
            and fresh["x-cbdc-nonce"] == case["nonce"]
            and verify(public, message, bytes.fromhex(fresh["x-cbdc-signature"])),
        )
    print(f"{failures} failure(s)" if failures else "all vectors pass")
    return failures


# --------------------------------------------------------------------------
# The command line.


def _send(ledger, method, target, body, headers, content_type):
    request = urllib.request.Request(ledger + target, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    if body or method not in ("GET", "HEAD"):
        request.data = body
        if body:
            request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Sign a request to a cbdc ledger and send it (or print its headers).",
    )
    parser.add_argument("--ledger", default="http://127.0.0.1:7400", help="the ledger's base URL")
    parser.add_argument("--key", help="a key file written by `cbdc keygen` (signing or wallet)")
    parser.add_argument("--body", help="a file whose bytes are the request body (default: none)")
    parser.add_argument(
        "--content-type",
        default="application/json",
        help="the Content-Type of a body (default application/json)",
    )
    parser.add_argument(
        "--print-headers",
        action="store_true",
        help="print the four headers as curl -H arguments instead of sending",
    )
    parser.add_argument("--check-vectors", metavar="FILE", help="check a signed_request.json")
    parser.add_argument("method", nargs="?", help="GET or POST")
    parser.add_argument("path", nargs="?", help="the path and query, e.g. /v1/events?after=0")
    args = parser.parse_args(argv)

    if args.check_vectors:
        return 1 if check_vectors(args.check_vectors) else 0
    if not (args.key and args.method and args.path):
        parser.error("give --key, a METHOD and a PATH (or --check-vectors FILE)")
    if not args.path.startswith("/"):
        parser.error("PATH is the path and query as sent, starting with /")
    ledger = args.ledger.rstrip("/")
    if urllib.parse.urlsplit(ledger).path:
        parser.error("--ledger is scheme://host:port: the ledger signs the path it receives")

    secret = load_secret(args.key)
    body = b""
    if args.body:
        with open(args.body, "rb") as f:
            body = f.read()
    method = args.method.upper()
    headers = sign_request(secret, method, args.path, body)
    if args.print_headers:
        for name, value in headers.items():
            print(f"-H '{name}: {value}'")
        return 0
    try:
        status, answer = _send(ledger, method, args.path, body, headers, args.content_type)
    except urllib.error.URLError as error:
        print(f"cannot reach the ledger at {ledger}: {error.reason}", file=sys.stderr)
        return 2
    text = answer.decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), indent=2)
    except ValueError:
        pass
    print(text)
    if status >= 400:
        print(f"HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
