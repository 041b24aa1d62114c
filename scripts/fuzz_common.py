"""What the fuzz scripts' Python shares (scripts/fuzz-common.sh runs them).

Two users:
  - the schemathesis hooks (fuzz_api_hooks.py, fuzz_gateway_hooks.py,
    fuzz_wallet_api_hooks.py), which import it from their own directory:
    `log_call` (the request log), `positive` (a case the document admits in
    every part) and `error_code`;
  - the setup step of each script, which makes real objects on the running
    services and prints the schemathesis configuration: `call` (one HTTP
    request, a refusal ends the setup), `values`, `operation` and
    `acceptance` (TOML for the dictionaries of known ids and the statuses
    `positive_data_acceptance` takes).

Standard library only (the hooks also run inside schemathesis).
"""

import json
import sys
import threading
import urllib.error
import urllib.request

_log_lock = threading.Lock()


# ---------------------------------------------------------------------------
# For the hooks


def log_call(path, case, response, **extra):
    """Appends one JSON line about a request sent and its answer to `path`.

    The line has the operation, phase, generation mode, where the case is
    negative, method, target, content type, body and the status and answer
    (both shortened); `extra` adds the script's own fields (which credential
    went, never the credential).
    """
    if not path:
        return
    request = response.request
    body = request.body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "backslashreplace")
    try:
        answer = response.text
    except Exception:  # noqa: BLE001 (a log line must not fail the run)
        answer = repr(response.content)
    meta = case._meta  # reading case.meta would revalidate the case
    line = {
        "op": case.operation.label,
        "phase": getattr(meta.phase.name, "value", str(meta.phase.name)) if meta is not None else None,
        "mode": meta.generation.mode.value if meta is not None else None,
        "negative_in": sorted(
            location.value for location, component in meta.components.items() if component.mode.is_negative
        )
        if meta is not None
        else [],
        "method": request.method,
        "target": request.url.split("://", 1)[-1].split("/", 1)[-1],
        "content_type": request.headers.get("content-type"),
        **extra,
        "body": body if body is None else body[:2000],
        "status": response.status_code,
        "answer": answer[:500],
    }
    with _log_lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def positive(case):
    """Whether the case is one the document admits in every part."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return False
    return not any(component.mode.is_negative for component in meta.components.values())


def error_code(response):
    """The `code` of a JSON error answer ("" if there is none)."""
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return ""
    return body.get("code", "") if isinstance(body, dict) else ""


# ---------------------------------------------------------------------------
# For the setup steps


def call(base, method, path, body=None, headers=None, ok=(200, 201), timeout=30):
    """One JSON request; its answer. An answer not in `ok` ends the setup."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, answer = r.status, json.load(r)
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode("utf-8", "replace")
    if status not in ok:
        sys.exit(f"setup: {method} {path}: {status} {answer}")
    return answer


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def values(name, items):
    """A schemathesis dictionary of known values."""
    print(f"[dictionaries.{name}]\nvalues = {json.dumps(items)}\n")


def acceptance(statuses):
    """The statuses positive_data_acceptance takes everywhere."""
    print("[checks.positive_data_acceptance]")
    print(f"expected-statuses = {json.dumps(statuses)}\n")


def operation(names, parameters=None, expected=None):
    """Operations whose `parameters` (location.name → dictionary) take known
    values half the time, and the statuses positive_data_acceptance takes
    for them (if not the default)."""
    print(f"[[operations]]\ninclude-name = {json.dumps(names)}")
    if parameters:
        binding = ", ".join(f'"{k}" = {{ dictionary = "{v}", probability = 0.5 }}' for k, v in parameters.items())
        print(f"parameters = {{ {binding} }}")
    if expected:
        print(f"checks.positive_data_acceptance.expected-statuses = {json.dumps(expected)}")
    print()
