#!/usr/bin/env python3
"""Static checks of deploy/: what CI can verify without a container engine.

    python3 deploy/check.py [--cbdc target/debug/cbdc]   # the checks
    python3 deploy/check.py --self-test                  # they catch mistakes

Checks that the Dockerfile builds one non-root image for every role; that
deploy/compose.yaml parses and holds together (services, dependencies,
volumes, mounts, ports, health checks, secrets from deploy/.env, database
roles); that every Kubernetes manifest, and what each kustomization builds,
validates strictly against the Kubernetes schemas (kubernetes-validate,
offline); and that everything they name exists in the code: the `cbdc <role>
serve` commands and their flags, the environment variables, every setting of
the TOML files (the services refuse unknown settings), the listen ports, the
probe and scrape paths, the service URLs, and every metric, label and label
value the Prometheus rules and the Grafana dashboard query. With --cbdc the
binary's own `--help` is asked too (every flag and variable of every `cbdc`
command in the compose file, the manifests and deploy/compose/*.sh).

Standard library, PyYAML and kubernetes-validate
(clients/python/requirements-test.txt). Exits 1 naming every failure.
"""

import argparse
import copy
import fnmatch
import functools
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check.py: PyYAML is missing: pip install -r clients/python/requirements-test.txt")
try:
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version as kubernetes_latest_version
except ImportError:  # pragma: no cover
    sys.exit(
        "check.py: kubernetes-validate is missing: "
        "pip install -r clients/python/requirements-test.txt"
    )

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The Kubernetes versions the manifests must validate against: the oldest we
# support and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_latest_version() + ".0"]

# The Dockerfile's image as the manifests and the compose file name it.
IMAGE = "cbdc"

# Every service role of the one binary.
ROLES = {
    "ledger": {
        "command": ("ledger", "serve"),
        "sources": ["src/serve.rs", "ledger/service/src"],
        "listen_env": "CBDC_LISTEN",
        "config_root": "FileConfig",
        "config_file": "src/serve.rs",
    },
    "gateway": {
        "command": ("gateway", "serve"),
        "sources": ["src/gateway_cmd.rs", "bank-gateway/src"],
        "listen_env": "CBDC_GATEWAY_LISTEN",
        "config_root": "FileConfig",
        "config_file": "src/gateway_cmd.rs",
    },
    "wallet-api": {
        "command": ("wallet-api", "serve"),
        "sources": ["wallet-api/src", "src/*wallet*.rs", "src/wallet*/"],
        "listen_env": "CBDC_WALLET_API_LISTEN",
        # The struct of the TOML file: the one with a `banks` field.
        "config_root": None,
        "config_file": None,
    },
}

# A bank's internal token of the wallet API, by the bank's id.
BANK_TOKEN_PREFIX = "CBDC_WALLET_API_BANK_TOKEN_"

# Labels Prometheus itself attaches, and the ones deploy/prometheus sets.
PROMETHEUS_LABELS = {"job", "instance", "le", "quantile", "__name__"}
SYNTHETIC_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "count_values", "group", "stddev", "stdvar",
    "topk", "bottomk", "quantile", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "offset", "bool", "rate", "irate",
    "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "absent",
    "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "changes", "resets",
    "exp", "ln", "log2", "log10", "sqrt", "sgn", "scalar", "vector", "time",
    "timestamp", "sort", "sort_desc", "label_replace", "label_join",
    "predict_linear", "avg_over_time", "min_over_time", "max_over_time",
    "sum_over_time", "count_over_time", "last_over_time", "quantile_over_time",
    "stddev_over_time", "present_over_time", "absent_over_time", "inf", "nan",
}

COMPOSE_TOP = {"name", "services", "volumes", "networks", "secrets", "configs", "include"}
COMPOSE_SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "volumes",
    "ports", "expose", "depends_on", "healthcheck", "restart", "read_only", "tmpfs",
    "cap_drop", "cap_add", "security_opt", "user", "working_dir", "networks",
    "labels", "logging", "deploy", "stop_grace_period", "stop_signal", "secrets",
    "configs", "init", "ulimits", "profiles", "pull_policy", "container_name",
    "hostname", "extra_hosts", "shm_size", "mem_limit", "cpus", "pids_limit",
}
COMPOSE_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
COMPOSE_SERVICES = [
    "postgres", "init", "ledger", "admit-banks", "gateway-a", "gateway-b",
    "approve-floats", "wallet-api", "prometheus", "grafana",
]

KUSTOMIZATION_KEYS = {
    "apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images",
    "replicas",
}


# ---------------------------------------------------------------------------
# the report


class Report:
    def __init__(self, quiet=False):
        self.failures = []
        self.passed = 0
        self.section = ""
        self.quiet = quiet

    def start(self, section):
        self.section = section
        if not self.quiet:
            print(f"\n== {section}")

    def ok(self, what):
        self.passed += 1
        if not self.quiet:
            print(f"  ok    {what}")

    def fail(self, what):
        self.failures.append(f"[{self.section}] {what}")
        if not self.quiet:
            print(f"  FAIL  {what}")

    def check(self, condition, what, why=""):
        if condition:
            self.ok(what)
        else:
            self.fail(f"{what}{': ' + why if why else ''}")
        return condition

    def info(self, what):
        if not self.quiet:
            print(f"  info  {what}")


# ---------------------------------------------------------------------------
# reading the Rust sources


def strip_comments(text):
    """Rust source without comments (string literals kept; `//` in a string is rare here)."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Sources:
    """The workspace's Rust sources (not tests, not target/)."""

    def __init__(self, root):
        self.root = root
        self.files = {}
        for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
            rel = os.path.relpath(path, root)
            parts = rel.split(os.sep)
            if parts[0] in ("target", "deploy", ".git") or "tests" in parts or "benches" in parts:
                continue
            with open(path, encoding="utf-8") as f:
                self.files[rel] = f.read()
        self.code = {rel: strip_comments(text) for rel, text in self.files.items()}
        self.literals_all = set()
        for text in self.code.values():
            self.literals_all.update(re.findall(r'"((?:[^"\\]|\\.)*)"', text))

    def select(self, patterns):
        """The files a role's source patterns name (a file, a directory, a glob)."""
        chosen = set()
        for pattern in patterns:
            pattern = pattern.rstrip("/")
            for rel in self.files:
                if rel == pattern or rel.startswith(pattern + os.sep) or fnmatch.fnmatch(rel, pattern):
                    chosen.add(rel)
        return sorted(chosen)

    def literals(self, rels):
        found = set()
        for rel in rels:
            found.update(re.findall(r'"((?:[^"\\]|\\.)*)"', self.code[rel]))
        return found


def matching_brace(text, open_at):
    """The index of the brace closing the one at `open_at`."""
    depth = 0
    i = open_at
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text) - 1


def split_top(text, sep=","):
    """Splits at `sep` outside <>, (), [] and {}."""
    parts, depth, current = [], 0, []
    for c in text:
        if c in "<([{":
            depth += 1
        elif c in ">)]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def rust_items(sources, rels, keyword):
    """`struct` or `enum` definitions in `rels`: name -> (file, body)."""
    items = {}
    for rel in rels:
        text = sources.code[rel]
        for m in re.finditer(r"\b" + keyword + r"\s+(\w+)(?:<[^>{]*>)?\s*\{", text):
            end = matching_brace(text, m.end() - 1)
            items.setdefault(m.group(1), (rel, text[m.end() : end]))
    return items


def struct_fields(body):
    """A struct body's fields: name -> (type, serde attributes, clap attributes)."""
    fields = {}
    for part in split_top(body):
        attrs = re.findall(r"#\[(\w+)\((.*?)\)\]\s*", part, re.S)
        decl = re.sub(r"#\[.*?\]\s*", "", part, flags=re.S).strip()
        m = re.match(r"(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*(.+)$", decl, re.S)
        if not m:
            continue
        serde = " ".join(a for kind, a in attrs if kind == "serde")
        clap = " ".join(a for kind, a in attrs if kind in ("arg", "clap"))
        fields[m.group(1)] = (" ".join(m.group(2).split()), serde, clap)
    return fields


def enum_variants(body):
    """An enum body's variants: name -> the text after the name (its fields)."""
    variants = {}
    for part in split_top(body):
        decl = re.sub(r"#\[.*?\]\s*", "", part, flags=re.S).strip()
        m = re.match(r"(\w+)\s*(.*)$", decl, re.S)
        if m:
            variants[m.group(1)] = m.group(2)
    return variants


def kebab(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


# ---------------------------------------------------------------------------
# what the code exports: metrics, routes, ports, settings, commands


class Code:
    def __init__(self, root):
        self.root = root
        self.sources = Sources(root)
        self._items = {}
        self.role_files = {role: self.sources.select(spec["sources"]) for role, spec in ROLES.items()}
        self.metrics = {role: self._metrics(files) for role, files in self.role_files.items()}
        self.process_metrics = self._process_metric_names()

    # -- metrics

    def _metrics(self, rels):
        names = set()
        process = False
        for rel in rels:
            text = self.sources.code[rel]
            if "ProcessCollector" in text:
                process = True
            consts = dict(re.findall(r'const\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', text))

            def namespaced(segment):
                m = re.search(r'\.namespace\(\s*(?:"([^"]*)"|(\w+))\s*\)', segment)
                if not m:
                    return None
                return m.group(1) if m.group(1) is not None else consts.get(m.group(2))

            def full(name, segment):
                ns = namespaced(segment)
                sub = re.search(r'\.subsystem\(\s*"([^"]*)"\s*\)', segment)
                parts = [p for p in (ns, sub.group(1) if sub else None, name) if p]
                return "_".join(parts)

            # Closures that make a metric from a name: `let gauge = |name: &str, ..| {..}`.
            closures = {}
            for m in re.finditer(r"let\s+(\w+)\s*=\s*\|\s*name\s*:\s*&str", text):
                rest = text[m.end() :]
                stop = rest.find(".expect(")
                closures[m.group(1)] = rest[: stop if stop >= 0 else 400]
            for m in re.finditer(r'\b(?:Histogram)?Opts::new\(\s*"([^"]+)"', text):
                rest = text[m.end() :]
                stop = rest.find(".expect(")
                names.add(full(m.group(1), rest[: stop if stop >= 0 else 400]))
            for name, segment in closures.items():
                for m in re.finditer(r"\b" + name + r'\(\s*"([^"]+)"', text):
                    names.add(full(m.group(1), segment))
            for m in re.finditer(r'\b(?:register_\w+|opts|histogram_opts)!\(\s*"([^"]+)"', text):
                names.add(m.group(1))
        return {"names": names, "process": process}

    def _process_metric_names(self):
        cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
        found = sorted(glob.glob(os.path.join(cargo_home, "registry", "src", "*", "prometheus-0.*", "src", "process_collector.rs")))
        names = set()
        if found:
            with open(found[-1], encoding="utf-8") as f:
                names = set(re.findall(r'"(process_\w+)"', f.read()))
        return names or {
            "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
            "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
            "process_resident_memory_bytes", "process_start_time_seconds", "process_threads",
        }

    def metric_owner(self, name):
        """The roles that export `name` (a histogram's _bucket/_sum/_count too)."""
        base = [name] + [name[: -len(s)] for s in ("_bucket", "_sum", "_count") if name.endswith(s)]
        owners = []
        for role, found in self.metrics.items():
            if any(b in found["names"] for b in base) or (found["process"] and name in self.process_metrics):
                owners.append(role)
        return owners

    # -- routes, ports, environment

    def routes(self, role):
        found = set()
        for rel in self.role_files[role]:
            found.update(re.findall(r'#\[(?:get|post|put|patch|delete)\("([^"]+)"\)\]', self.sources.code[rel]))
        return found

    def default_port(self, role):
        ports = set()
        for rel in self.role_files[role]:
            ports.update(re.findall(r'"(?:127\.0\.0\.1|0\.0\.0\.0|localhost):(\d+)"', self.sources.code[rel]))
        return ports

    def has_env(self, name):
        return name in self.sources.literals_all

    def has_literal(self, role, value):
        return value in self.sources.literals(self.role_files[role])

    # -- the configuration file's shape

    def config_struct(self, role):
        """(structs, root name) of the role's TOML file, or a reason."""
        spec = ROLES[role]
        rels = self.role_files[role]
        structs = dict(rust_items(self.sources, rels, "struct"))
        # Structs the settings refer to may live anywhere in the workspace.
        everywhere = self.items("struct", "all")
        for name, item in everywhere.items():
            structs.setdefault(name, item)
        if spec["config_root"]:
            local = rust_items(self.sources, [spec["config_file"]], "struct")
            if spec["config_root"] not in local:
                return None, f"no struct {spec['config_root']} in {spec['config_file']}"
            structs[spec["config_root"]] = local[spec["config_root"]]
            return structs, spec["config_root"]
        for name, (rel, body) in rust_items(self.sources, rels, "struct").items():
            fields = struct_fields(body)
            if "banks" in fields and "Deserialize" in self._derives(rel, name):
                return structs, name
        return None, (
            "no Deserialize struct with a `banks` field in " + ", ".join(ROLES[role]["sources"])
            + " (the wallet API's configuration file is not in the code yet?)"
        )

    def _derives(self, rel, name):
        text = self.sources.code[rel]
        m = re.search(r"((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?struct\s+" + name + r"\b", text)
        return m.group(1) if m else ""

    # -- the command line

    def command_path(self, tokens):
        """The subcommands at the start of `cbdc TOKENS` by the clap enums of
        src/: (path, reason if a token is not a subcommand)."""
        enums = self.items("enum", "src")
        current, path = "Command", []
        for token in tokens:
            if token.startswith("-") or current not in enums:
                break
            variants = enum_variants(enums[current][1])
            match = [v for v in variants if kebab(v) == token]
            if not match:
                return path, f"`{token}` is not a subcommand of `cbdc {' '.join(path)}` ({', '.join(kebab(v) for v in variants)})"
            path.append(token)
            m = re.search(r"command\s*:\s*(?:[\w:]*::)?(\w+)", variants[match[0]])
            current = m.group(1) if m else None
        return path, None

    def items(self, keyword, where):
        """rust_items over `where` ("src" or "all"), once."""
        key = (keyword, where)
        if key not in self._items:
            rels = sorted(self.sources.code)
            if where == "src":
                rels = [r for r in rels if r.startswith("src" + os.sep)]
            self._items[key] = rust_items(self.sources, rels, keyword)
        return self._items[key]

    def subcommand(self, path):
        """Walks `cbdc <path...>` through the clap enums of src/: the args
        struct's (file, name) of the last step, or a reason."""
        enums = self.items("enum", "src")
        structs = self.items("struct", "all")
        current = "Command"
        found = None
        for step in path:
            if current not in enums:
                return None, f"no enum {current} for `{step}`"
            variants = enum_variants(enums[current][1])
            match = [v for v in variants if kebab(v) == step]
            if not match:
                return None, f"`{step}` is not a subcommand ({', '.join(kebab(v) for v in variants)})"
            fields = variants[match[0]]
            m = re.search(r"command\s*:\s*(?:[\w:]*::)?(\w+)", fields) or re.search(
                r"\(\s*(?:Box<)?\s*(?:[\w:]*::)?(\w+)", fields
            )
            if not m:
                found = None
                continue
            name = m.group(1)
            if name in enums:
                current = name
            found = name
        if found and found in structs:
            return structs[found], None
        return None, None


@functools.lru_cache(maxsize=None)
def code_of(root):
    return Code(root)


# ---------------------------------------------------------------------------
# the binary, when given


class Binary:
    def __init__(self, path):
        self.path = path
        self.cache = {}

    def help(self, path):
        key = tuple(path)
        if key not in self.cache:
            try:
                run = subprocess.run(
                    [self.path, *path, "--help"], capture_output=True, text=True, timeout=20,
                    env={**os.environ, "NO_COLOR": "1"},
                )
                self.cache[key] = (run.returncode, run.stdout + run.stderr)
            except OSError as e:
                self.cache[key] = (127, str(e))
        return self.cache[key]

    def resolve(self, tokens):
        """The subcommand path at the start of `tokens` and the rest."""
        path = []
        rest = list(tokens)
        while rest and not rest[0].startswith("-"):
            code, text = self.help(path)
            if code != 0:
                break
            commands = set(re.findall(r"^\s{2}([a-z][\w-]*)\s", text.split("Commands:")[1], re.M)) if "Commands:" in text else set()
            if rest[0] in commands:
                path.append(rest.pop(0))
            else:
                break
        return path, rest

    def flags(self, path):
        code, text = self.help(path)
        return code, set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text)), set(re.findall(r"\[env: (\w+)[=\]]", text))


# ---------------------------------------------------------------------------
# PromQL


def promql_parts(expr):
    """(metric names, [(metric or None, label, op, value)], label names in by/without/on)."""
    matchers = []
    text = expr
    for m in re.finditer(r"([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}", text):
        for lm in re.finditer(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', m.group(2)):
            matchers.append((m.group(1), lm.group(1), lm.group(2), lm.group(3)))
    grouped = set()
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        grouped.update(x.strip() for x in m.group(1).split(",") if x.strip())
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\s*(\()?", text):
        word, call = m.group(1), m.group(2)
        if call or word in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names, matchers, grouped


def check_promql(report, code, where, expr, extra_labels):
    names, matchers, grouped = promql_parts(expr)
    if not names:
        report.fail(f"{where}: no metric in `{expr}`")
        return
    owners = {}
    for name in sorted(names):
        if name in SYNTHETIC_METRICS:
            owners[name] = list(ROLES)
            report.ok(f"{where}: `{name}` (Prometheus' own)")
            continue
        found = code.metric_owner(name)
        owners[name] = found
        report.check(found, f"{where}: metric `{name}` is exported by {', '.join(found) or '?'}",
                     f"unknown metric `{name}`: no service registers it (Rust sources: Opts::new / HistogramOpts::new with its namespace)")
    roles = sorted({r for found in owners.values() for r in found}) or list(ROLES)

    def label_known(label):
        return label in PROMETHEUS_LABELS or label in extra_labels or any(code.has_literal(r, label) for r in roles)

    for label in sorted(grouped):
        report.check(label_known(label), f"{where}: label `{label}` exists", f"unknown label `{label}`")
    for metric, label, op, value in matchers:
        known = label_known(label)
        report.check(known, f"{where}: label `{label}` exists", f"unknown label `{label}` in `{expr}`")
        if known and op in ("=", "!=") and label not in PROMETHEUS_LABELS:
            if label in extra_labels:
                ok = value in extra_labels[label]
            else:
                scope = owners.get(metric) or roles
                ok = any(code.has_literal(r, value) for r in scope)
            report.check(ok, f"{where}: {label}=\"{value}\" is a value the code uses",
                         f"no service uses {label}=\"{value}\"")


# ---------------------------------------------------------------------------
# small parsers


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_yaml_all(path):
    return [doc for doc in yaml.safe_load_all(read(path)) if doc is not None]


def interpolations(text):
    """`${VAR}`, `${VAR:-default}`, `${VAR:?message}`: [(name, operator)]."""
    return re.findall(r"(?<!\$)\$\{(\w+)(?:(:?[-?+])[^}]*)?\}", text)


def url_parts(value):
    # `${VAR:?message}` is one opaque word, whatever its message holds.
    value = re.sub(r"\$\{(\w+)[^}]*\}", r"${\1}", value)
    m = re.match(r"^(https?|postgres(?:ql)?)://(?:([^:@/]+)(?::([^@/]*))?@)?([\w.-]+):(\d+)(/[^?#]*)?", value)
    if not m:
        return None
    return {"scheme": m.group(1), "user": m.group(2), "password": m.group(3), "host": m.group(4),
            "port": int(m.group(5)), "path": m.group(6) or ""}


def port_of(listen):
    m = re.match(r"^(?:\[[^\]]*\]|[\w.-]*):(\d+)$", str(listen))
    return int(m.group(1)) if m else None


def role_of(tokens):
    for role, spec in ROLES.items():
        if tuple(tokens[: len(spec["command"])]) == spec["command"]:
            return role
    return None


def bank_token_id(name):
    return name[len(BANK_TOKEN_PREFIX):] if name.startswith(BANK_TOKEN_PREFIX) else None


def env_id(bank_id):
    return bank_id.upper().replace("-", "_")


# ---------------------------------------------------------------------------
# the configuration files against the Rust structs


PRIMITIVES = {
    "String": str, "PathBuf": str, "bool": bool, "u8": int, "u16": int, "u32": int,
    "u64": int, "usize": int, "i32": int, "i64": int, "f64": (int, float),
}


def check_toml_value(report, structs, where, type_text, value):
    """Whether `value` fits the Rust type `type_text`; reports what does not."""
    t = type_text.strip()
    for wrapper in ("Option", "Box"):
        m = re.fullmatch(wrapper + r"<(.+)>", t)
        if m:
            return check_toml_value(report, structs, where, m.group(1), value)
    m = re.fullmatch(r"Vec<(.+)>", t)
    if m:
        if not isinstance(value, list):
            report.fail(f"{where}: a list, not {value!r}")
            return False
        return all(check_toml_value(report, structs, f"{where}[{i}]", m.group(1), v) for i, v in enumerate(value))
    m = re.fullmatch(r"(?:BTreeMap|HashMap)<\s*String\s*,(.+)>", t)
    if m:
        if not isinstance(value, dict):
            report.fail(f"{where}: a table, not {value!r}")
            return False
        return all(check_toml_value(report, structs, f"{where}.{k}", m.group(1), v) for k, v in value.items())
    t = t.split("::")[-1]
    if t in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[t]) and not (PRIMITIVES[t] is int and isinstance(value, bool))
        if ok and t.startswith("u") and value < 0:
            ok = False
        if not ok:
            report.fail(f"{where}: {value!r} is not a {t}")
        return ok
    if t in structs:
        if not isinstance(value, dict):
            report.fail(f"{where}: a table ({t}), not {value!r}")
            return False
        fields = struct_fields(structs[t][1])
        keys = {}
        for name, (ftype, serde, _) in fields.items():
            rename = re.search(r'rename\s*=\s*"([^"]+)"', serde)
            keys[rename.group(1) if rename else name] = ftype
            for alias in re.findall(r'alias\s*=\s*"([^"]+)"', serde):
                keys[alias] = ftype
        good = True
        for key, sub in value.items():
            if key not in keys:
                report.fail(f"{where}: unknown setting `{key}` (struct {t} in {structs[t][0]} has {', '.join(sorted(keys))})")
                good = False
            else:
                good &= check_toml_value(report, structs, f"{where}.{key}", keys[key], sub)
        return good
    report.info(f"{where}: type {t} not checked")
    return True


def check_config_file(report, code, role, path, label):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        report.fail(f"{label}: not valid TOML: {e}")
        return None
    structs, root = code.config_struct(role)
    if structs is None:
        report.fail(f"{label}: cannot check its settings: {root}")
        return data
    if check_toml_value(report, structs, label, root, data):
        report.ok(f"{label}: every setting is a field of {root} ({structs[root][0]})")
    return data


# ---------------------------------------------------------------------------
# the command lines


def check_cli(report, code, binary, where, tokens, env_names=(), script_vars=()):
    """`cbdc` + tokens: the subcommands, the flags and the environment variables."""
    role = role_of(tokens)
    if role:
        spec = ROLES[role]
        args, why = code.subcommand(spec["command"])
        if why:
            report.fail(f"{where}: `cbdc {' '.join(spec['command'])}` is not in the clap definitions: {why}")
        else:
            report.ok(f"{where}: `cbdc {' '.join(spec['command'])}` is in the clap definitions")
            if args:
                fields = struct_fields(args[1])
                longs = set()
                for name, (_, _, clap) in fields.items():
                    if re.search(r"\blong\b", clap):
                        m = re.search(r'long\s*=\s*"([^"]+)"', clap)
                        longs.add("--" + (m.group(1) if m else name.replace("_", "-")))
                for flag in [t.split("=")[0] for t in tokens if t.startswith("--")]:
                    report.check(flag in longs, f"{where}: `{flag}` is a flag of `cbdc {' '.join(spec['command'])}`",
                                 f"not among {', '.join(sorted(longs))}")
    if not role and tokens:
        path, why = code.command_path(tokens)
        report.check(path and not why, f"{where}: `cbdc {' '.join(path)}` is in the clap definitions", why or "no subcommand")
    for name in sorted(env_names):
        token_of = bank_token_id(name)
        if token_of is not None:
            report.check(code.has_env(BANK_TOKEN_PREFIX) or any(BANK_TOKEN_PREFIX in lit for lit in code.sources.literals_all),
                         f"{where}: `{name}` ({BANK_TOKEN_PREFIX}<bank>) is read by the code",
                         f"no string `{BANK_TOKEN_PREFIX}` in the Rust sources")
        elif name in script_vars:
            report.ok(f"{where}: `{name}` is read by the script")
        else:
            report.check(code.has_env(name), f"{where}: `{name}` is in the Rust sources",
                         f"unknown environment variable `{name}` (no string \"{name}\" in the Rust sources)")
    if binary and tokens:
        path, rest = binary.resolve(tokens)
        code_, flags, envs = binary.flags(path)
        if not report.check(code_ == 0 and path, f"{where}: `cbdc {' '.join(path)} --help` runs (binary)",
                            f"`cbdc {' '.join(tokens[:2])}` is not a command of {binary.path}"):
            return
        if role:
            report.check(tuple(path) == ROLES[role]["command"], f"{where}: the binary has `cbdc {' '.join(ROLES[role]['command'])}`",
                         f"resolved only `cbdc {' '.join(path)}`")
        for flag in [t.split("=")[0] for t in rest if t.startswith("--")]:
            report.check(flag in flags, f"{where}: `cbdc {' '.join(path)} {flag}` (binary)", "no such flag in --help")
        for name in sorted(env_names):
            if bank_token_id(name) is None and name not in script_vars:
                report.check(name in envs, f"{where}: `{name}` is an [env:] of `cbdc {' '.join(path)}` (binary)",
                             f"not among {', '.join(sorted(envs)) or 'none'}")


def script_commands(text):
    """The `cbdc …` invocations of a shell script, tokenised (variables kept)."""
    text = text.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        for m in re.finditer(r"(?:^|[;&|(]\s*|\bthen\s+|\bif\s+|\bdo\s+|\belse\s+)cbdc\s+([^;&|)#]*)", stripped):
            try:
                found.append(shlex.split(m.group(1)))
            except ValueError:
                found.append(m.group(1).split())
    return found


def script_variables(text):
    return set(re.findall(r"\$\{?(\w+)", text))


# ---------------------------------------------------------------------------
# checks: the Dockerfile


@functools.lru_cache(maxsize=None)
def lock_rust_version(root):
    """The newest `rust-version` of the locked crates found under CARGO_HOME:
    ((major, minor), crate), how many were not found, or a reason it failed."""
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    try:
        lock = tomllib.loads(read(os.path.join(root, "Cargo.lock")))
    except (OSError, tomllib.TOMLDecodeError) as e:
        return ((0, 0), ""), 0, f"Cargo.lock: {e}"
    newest, unknown = ((0, 0), ""), 0
    for package in lock.get("package", []):
        if "registry" not in package.get("source", ""):
            continue
        manifests = glob.glob(os.path.join(cargo_home, "registry", "src", "*", f"{package['name']}-{package['version']}", "Cargo.toml"))
        if not manifests:
            unknown += 1
            continue
        try:
            wanted = tomllib.loads(read(manifests[0])).get("package", {}).get("rust-version")
        except tomllib.TOMLDecodeError:
            continue
        if isinstance(wanted, str) and re.match(r"\d+\.\d+", wanted):
            version = tuple(int(x) for x in wanted.split(".")[:2])
            if version > newest[0]:
                newest = (version, f"{package['name']} {package['version']}")
    return newest, unknown, None


def check_dockerfile(report, ctx):
    report.start("Dockerfile")
    path = os.path.join(ctx.deploy, "Dockerfile")
    if not report.check(os.path.exists(path), "deploy/Dockerfile exists"):
        return
    text = read(path)
    lines = [l for l in text.replace("\\\n", " ").splitlines() if l.strip() and not l.strip().startswith("#")]
    froms = [l.split()[1:] for l in lines if l.split()[0].upper() == "FROM"]
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S*)", text, re.M))
    report.check(len(froms) >= 2, f"multi-stage ({len(froms)} stages)")
    if froms:
        builder = froms[0][0]
        builder = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), builder)
        m = re.match(r"rust:(\d+)\.(\d+)", builder)
        report.check(m, f"the builder is the official Rust image ({builder})")
        if m:
            ctx.rust_version = (int(m.group(1)), int(m.group(2)))
        report.check(froms[-1][0] == "debian:bookworm-slim", f"the runtime is debian:bookworm-slim ({froms[-1][0]})")
    for dep in ("build-essential", "pkg-config", "libssl-dev"):
        report.check(re.search(r"apt-get install[^\n]*\b" + re.escape(dep) + r"\b", text.replace("\\\n", " ")),
                     f"the builder installs {dep}")
    report.check(re.search(r"cargo build --release --locked", text), "`cargo build --release --locked`")
    report.check(re.search(r"COPY --from=\w+ \S*cbdc /usr/local/bin/cbdc", text), "only the binary is copied to the runtime")
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    uid = users[-1].split(":")[0] if users else ""
    if report.check(uid.isdigit() and int(uid) != 0, f"runs as a numeric non-root user (USER {users[-1] if users else '-'})",
                    "Kubernetes' runAsNonRoot can only verify a numeric, non-zero USER"):
        ctx.uid = int(uid)
    report.check(re.search(r'^ENTRYPOINT\s+\["cbdc"\]', text, re.M), 'ENTRYPOINT ["cbdc"]')
    exposed = {int(p) for l in re.findall(r"^EXPOSE\s+(.+)$", text, re.M) for p in l.split()}
    ports = {int(p) for role in ROLES for p in ctx.code.default_port(role)}
    report.check(ports and exposed == ports, f"EXPOSE {sorted(exposed)} are the roles' default ports {sorted(ports)}")

    # The toolchain is new enough for the lock file.
    newest, unknown, why = lock_rust_version(ctx.root)
    if why:
        report.fail(why)
        return
    if newest[1] and ctx.rust_version:
        report.check(ctx.rust_version >= newest[0],
                     f"Rust {ctx.rust_version[0]}.{ctx.rust_version[1]} builds Cargo.lock (it needs {newest[0][0]}.{newest[0][1]}, for {newest[1]})")
    else:
        report.info("the Rust version the lock file needs is unknown (no crate sources under CARGO_HOME)")
    if unknown:
        report.info(f"{unknown} locked crates not in the local registry: their rust-version is not checked")

    ignore = os.path.join(ctx.deploy, "Dockerfile.dockerignore")
    if report.check(os.path.exists(ignore), "deploy/Dockerfile.dockerignore exists (the context is the repository's root)"):
        patterns = [l.strip().rstrip("/") for l in read(ignore).splitlines() if l.strip() and not l.startswith("#")]
        for needed in ("target", ".git"):
            report.check(needed in patterns, f"the build context leaves out {needed}/")
        inputs = ["Cargo.toml", "Cargo.lock"]
        members = tomllib.loads(read(os.path.join(ctx.root, "Cargo.toml"))).get("workspace", {}).get("members", [])
        inputs += [m for m in members if m != "."]
        for rel, text in ctx.code.sources.code.items():
            for m in re.finditer(r'(?:include_str|include_bytes|embed_migrations)!\(\s*"([^"]+)"', text):
                base = os.path.dirname(rel) if "include" in m.group(0) else rel.split(os.sep + "src")[0]
                inputs.append(os.path.normpath(os.path.join(base, m.group(1))))
        excluded = [i for i in inputs if any(fnmatch.fnmatch(i, p) or i == p or i.startswith(p + "/") for p in patterns)]
        report.check(not excluded, f"the build context keeps every build input ({len(inputs)})", f"excluded: {excluded}")


# ---------------------------------------------------------------------------
# checks: compose


def normalise_env(env):
    if env is None:
        return {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_mounts(service):
    """[(source, target, read_only, kind)] of a service's volumes."""
    mounts = []
    for item in service.get("volumes", []) or []:
        if isinstance(item, str):
            parts = item.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            ro = len(parts) > 2 and "ro" in parts[2].split(",")
        else:
            source, target, ro = item.get("source"), item.get("target"), item.get("read_only", False)
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append((source, target, ro, kind))
    return mounts


def check_compose(report, ctx):
    report.start("compose.yaml")
    path = os.path.join(ctx.deploy, "compose.yaml")
    try:
        raw = read(path)
        compose = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as e:
        report.fail(f"deploy/compose.yaml does not parse: {e}")
        return
    report.ok("deploy/compose.yaml parses (YAML, merge keys resolved)")
    if not report.check(isinstance(compose, dict) and isinstance(compose.get("services"), dict), "it has services"):
        return
    extra = {k for k in compose if k not in COMPOSE_TOP and not k.startswith("x-")}
    report.check(not extra, "only Compose Specification top-level keys", f"unknown: {sorted(extra)}")
    services = compose["services"]
    ctx.compose = compose
    for name in COMPOSE_SERVICES:
        report.check(name in services, f"service `{name}` exists")
    volumes = compose.get("volumes") or {}

    # Variables from deploy/.env: each required, written by new-env.sh, documented.
    new_env = os.path.join(ctx.deploy, "compose", "new-env.sh")
    written = set(re.findall(r'echo\s+"(\w+)=', read(new_env))) if os.path.exists(new_env) else set()
    readme = read(os.path.join(ctx.deploy, "README.md")) if os.path.exists(os.path.join(ctx.deploy, "README.md")) else ""
    ctx.readme = readme
    required = set()
    for var, op in interpolations(raw):
        if op in ("?", ":?"):
            required.add(var)
        elif op not in ("-", ":-"):
            report.fail(f"`${{{var}}}` has neither a default nor `:?`: it would be silently empty")
    for var in sorted(required):
        report.check(var in written, f"`{var}` is written by deploy/compose/new-env.sh")
        report.check(f"`{var}`" in readme, f"`{var}` is documented in deploy/README.md")
    for var in sorted(written - required):
        report.fail(f"new-env.sh writes `{var}`, which the compose file never uses")

    # Database roles of the init script.
    init_db = os.path.join(ctx.deploy, "compose", "postgres", "init-databases.sh")
    databases = dict(re.findall(r'"(\w+):\$(\w+)"', read(init_db))) if os.path.exists(init_db) else {}

    listen_of = {}
    roles = {}
    for name, service in services.items():
        if not isinstance(service, dict):
            report.fail(f"{name}: not a mapping")
            continue
        unknown = set(service) - COMPOSE_SERVICE_KEYS
        report.check(not unknown, f"{name}: only known service keys", f"unknown: {sorted(unknown)}")
        env = normalise_env(service.get("environment"))
        service["environment"] = env
        command = service.get("command") or []
        if isinstance(command, str):
            command = shlex.split(command)
        role = role_of(command)
        roles[name] = role
        if role:
            listen = env.get(ROLES[role]["listen_env"])
            port = port_of(listen) if listen else None
            listen_of[name] = port
    ctx.compose_listen = listen_of

    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        env = service["environment"]
        image = str(service.get("image", ""))
        is_cbdc = image.split(":")[0] == IMAGE
        # Images: ours from the one Dockerfile, the others pinned.
        if is_cbdc:
            build = service.get("build") or {}
            dockerfile = os.path.normpath(os.path.join(ctx.deploy, build.get("context", "."), build.get("dockerfile", "Dockerfile")))
            report.check(dockerfile == os.path.join(ctx.deploy, "Dockerfile") and os.path.normpath(os.path.join(ctx.deploy, build.get("context", ""))) == os.path.dirname(ctx.deploy),
                         f"{name}: image {image} is built from deploy/Dockerfile with the repository's root as context")
            report.check(service.get("user") in (None, "10001", "10001:10001", str(ctx.uid)), f"{name}: runs as the image's non-root user")
        else:
            report.check(image and ":" in image and not image.endswith(":latest"), f"{name}: image {image or '-'} is pinned",
                         "a third-party image must name its version")
            report.check("build" not in service, f"{name}: only cbdc images are built")
        # Dependencies.
        deps = service.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, how in deps.items():
            condition = (how or {}).get("condition", "service_started")
            if not report.check(dep in services, f"{name}: depends on `{dep}`, a service", "no such service"):
                continue
            report.check(condition in COMPOSE_CONDITIONS, f"{name}: `{condition}` is a condition")
            if condition == "service_healthy":
                report.check("healthcheck" in services[dep], f"{name}: `{dep}` has the health check it waits for")
            if condition == "service_completed_successfully":
                report.check(str(services[dep].get("restart", "no")) == "no", f"{name}: one-shot `{dep}` does not restart")
        # Mounts.
        for source, target, ro, kind in compose_mounts(service):
            if kind == "bind":
                report.check(os.path.exists(os.path.join(ctx.deploy, source)), f"{name}: mounts {source}, which exists")
                report.check(ro, f"{name}: {source} is mounted read-only")
            else:
                report.check(source in volumes, f"{name}: volume `{source}` is declared")
        # Ports on 127.0.0.1 only; the container's side is what it listens on.
        for spec in service.get("ports", []) or []:
            parts = str(spec).split(":")
            report.check(len(parts) == 3 and parts[0] == "127.0.0.1", f"{name}: port {spec} is published on 127.0.0.1 only")
            if name in listen_of and len(parts) == 3:
                report.check(int(parts[2]) == listen_of[name], f"{name}: published port {parts[2]} is the one it listens on ({listen_of[name]})")
        # URLs to other services, and the databases.
        for key, value in env.items():
            check_compose_url(report, ctx, name, key, value, databases, services)
        if not is_cbdc:
            continue
        command = service.get("command") or []
        role = roles[name]
        if role:
            check_compose_role(report, ctx, name, service, role, command, env)
        else:
            entrypoint = service.get("entrypoint") or []
            script = None
            if len(entrypoint) == 2 and entrypoint[0] == "/bin/sh":
                for source, target, _, kind in compose_mounts(service):
                    if target == entrypoint[1] and kind == "bind":
                        script = os.path.join(ctx.deploy, source)
            if not report.check(script and os.path.exists(script), f"{name}: runs a script of deploy/compose ({' '.join(entrypoint) or '-'})",
                                "a cbdc service either runs `cbdc <role> serve` or a mounted deploy/compose/*.sh"):
                continue
            text = read(script)
            variables = script_variables(text)
            check_cli(report, ctx.code, ctx.binary, f"{name}", [], env_names=set(env), script_vars=variables)
            commands = script_commands(text)
            report.check(commands, f"{name}: its script runs cbdc commands ({len(commands)})")
            for tokens in commands:
                check_cli(report, ctx.code, ctx.binary, f"{os.path.relpath(script, ctx.deploy)}: cbdc {' '.join(tokens[:2])}", tokens)

    check_compose_keys(report, ctx, services)
    check_compose_banks(report, ctx, services)


def check_compose_url(report, ctx, name, key, value, databases, services):
    if "://" not in value:
        return
    parts = url_parts(value)
    if not parts:
        report.check(not re.match(r"^(https?|postgres(?:ql)?)://", value), f"{name}: {key} is a URL this check reads", f"cannot read `{value}`")
        return
    if parts["scheme"].startswith("postgres"):
        db = parts["path"].lstrip("/")
        report.check(parts["host"] == "postgres" and parts["port"] == 5432, f"{name}: {key} is the postgres service")
        if report.check(db in databases, f"{name}: {key}: database `{db}` is made by init-databases.sh"):
            report.check(parts["user"] == db, f"{name}: {key}: connects as role `{db}`, the database's owner")
            secret = re.findall(r"\$\{(\w+)", parts["password"] or "")
            report.check(secret == [databases[db]], f"{name}: {key}: the password is ${{{databases[db]}}}, the role's")
            report.check(databases[db] in services.get("postgres", {}).get("environment", {}), f"postgres gets {databases[db]}")
        return
    if parts["host"] in ("127.0.0.1", "localhost"):
        return
    target = parts["host"]
    if report.check(target in services, f"{name}: {key} names service `{target}`", f"no service `{target}` in {value}"):
        want = ctx.compose_listen.get(target)
        report.check(want == parts["port"], f"{name}: {key} uses port {parts['port']}, where `{target}` listens ({want})")


def check_compose_role(report, ctx, name, service, role, command, env):
    spec = ROLES[role]
    check_cli(report, ctx.code, ctx.binary, name, command, env_names=set(env))
    listen = env.get(spec["listen_env"])
    port = port_of(listen) if listen else None
    defaults = ctx.code.default_port(role)
    report.check(listen and listen.startswith("0.0.0.0:"), f"{name}: {spec['listen_env']}={listen} listens on every interface",
                 "in a container the default 127.0.0.1 cannot be reached")
    report.check(str(port) in defaults, f"{name}: port {port} is {role}'s default in the code ({', '.join(sorted(defaults)) or 'none found'})")
    health = service.get("healthcheck") or {}
    test = " ".join(health.get("test", [])) if isinstance(health.get("test"), list) else str(health.get("test", ""))
    m = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", test)
    if report.check(m, f"{name}: health check asks an HTTP path"):
        report.check(int(m.group(1)) == port, f"{name}: health check port {m.group(1)} is its listen port")
        report.check(m.group(2) == "/readyz" and m.group(2) in ctx.code.routes(role),
                     f"{name}: health check path {m.group(2)} is {role}'s readiness route", f"routes: /healthz, /readyz")
    # The configuration file.
    if "--config" in command:
        target = command[command.index("--config") + 1]
        mounted = [s for s, t, _, kind in compose_mounts(service) if t == target and kind == "bind"]
        if report.check(mounted, f"{name}: --config {target} is a mounted file of deploy/"):
            data = check_config_file(report, ctx.code, role, os.path.join(ctx.deploy, mounted[0]), f"{name}: {mounted[0]}")
            ctx.compose_configs[name] = (role, data or {})
            check_compose_paths(report, ctx, name, service, data or {})
            for key, value in (data or {}).items():
                if isinstance(value, str):
                    check_compose_url(report, ctx, name, key, value, {}, ctx.compose["services"])
            for i, bank in enumerate((data or {}).get("banks", []) or []):
                if isinstance(bank, dict) and isinstance(bank.get("url"), str):
                    check_compose_url(report, ctx, name, f"banks[{i}].url", bank["url"], {}, ctx.compose["services"])


def check_compose_paths(report, ctx, name, service, data):
    """Key files the configuration names: in a mounted volume, made by init.sh."""
    init = os.path.join(ctx.deploy, "compose", "init.sh")
    templates = []
    if os.path.exists(init):
        text = read(init)
        base = re.search(r"keys=\$\{CBDC_KEYS_DIR:-([^}]+)\}", text)
        for m in re.finditer(r'"\$keys/([^"]+)"', text):
            pattern = re.escape(m.group(1))
            pattern = re.sub(r"\\\$\\\{?\w+\\\}?|\\\$\w+", "[A-Za-z0-9_-]+", pattern)
            templates.append(((base.group(1) if base else "") + "/" + pattern))
    paths = []
    for key in ("block_key", "bank_keys"):
        if isinstance(data.get(key), str):
            paths.append((key, data[key]))
    for i, officer in enumerate(data.get("officers", []) or []):
        if isinstance(officer, dict) and str(officer.get("key", "")).startswith("/"):
            paths.append((f"officers[{i}].key", officer["key"]))
    mounts = compose_mounts(service)
    for key, value in paths:
        report.check(any(value.startswith(t.rstrip("/") + "/") for _, t, _, kind in mounts if kind == "volume"),
                     f"{name}: {key} {value} is in a mounted volume")
        report.check(any(re.fullmatch(re.escape(t.split("/")[0]) + t[len(t.split("/")[0]):], value) for t in templates),
                     f"{name}: {key} {value} is made by deploy/compose/init.sh")


def check_compose_keys(report, ctx, services):
    """The TOML files and the environment give each role what it needs."""
    for name, (role, data) in ctx.compose_configs.items():
        env = services[name]["environment"]
        if role == "ledger":
            report.check("DATABASE_URL" in env or "database_url" in data, f"{name}: has a database")
            report.check("block_key" in data or "CBDC_BLOCK_KEY" in env, f"{name}: has a block key")
        if role == "gateway":
            for var, key in (("CBDC_GATEWAY_DATABASE_URL", "database_url"), ("CBDC_GATEWAY_KEK", "kek"),
                             ("CBDC_GATEWAY_OPERATOR_TOKEN", "operator_tokens"), ("CBDC_GATEWAY_INTERNAL_TOKEN", "internal_tokens")):
                report.check(var in env or key in data, f"{name}: has {key} ({var})")
            report.check(not any(k in data for k in ("kek", "operator_tokens", "internal_tokens")),
                         f"{name}: no secret in its TOML file (they come from deploy/.env)")


def check_compose_banks(report, ctx, services):
    """The wallet API's banks are the gateways, with their internal tokens."""
    gateways = {data.get("bank_id"): name for name, (role, data) in ctx.compose_configs.items() if role == "gateway"}
    for name, (role, data) in ctx.compose_configs.items():
        if role != "wallet-api":
            continue
        env = services[name]["environment"]
        banks = [b for b in data.get("banks", []) or [] if isinstance(b, dict)]
        report.check(banks, f"{name}: has banks")
        ids = {env_id(b.get("id", "")): b for b in banks}
        for key, value in env.items():
            suffix = bank_token_id(key)
            if suffix is None:
                continue
            bank = ids.get(suffix)
            if not report.check(bank, f"{name}: {key} is the token of a configured bank", f"no bank whose id gives {suffix}"):
                continue
            gateway = gateways.get(bank.get("id"))
            if report.check(gateway, f"{name}: bank {bank.get('id')} has a gateway service"):
                report.check(services[gateway]["environment"].get("CBDC_GATEWAY_INTERNAL_TOKEN") == value,
                             f"{name}: {key} is {gateway}'s internal token")
                parts = url_parts(bank.get("url", "")) or {}
                report.check(parts.get("host") == gateway, f"{name}: bank {bank.get('id')}'s url is {gateway}")
        for bank in banks:
            report.check("internal_token" in bank or BANK_TOKEN_PREFIX + env_id(bank.get("id", "")) in env,
                         f"{name}: bank {bank.get('id')} has an internal token")


# ---------------------------------------------------------------------------
# checks: Prometheus and Grafana


def check_prometheus(report, ctx):
    report.start("Prometheus")
    services = (ctx.compose or {}).get("services", {})
    path = os.path.join(ctx.deploy, "prometheus", "prometheus.yml")
    try:
        config = yaml.safe_load(read(path))
    except (OSError, yaml.YAMLError) as e:
        report.fail(f"deploy/prometheus/prometheus.yml does not parse: {e}")
        return
    report.ok("deploy/prometheus/prometheus.yml parses")
    scraped = set()
    ctx.extra_labels = {"job": set(), "bank": set()}
    for job in config.get("scrape_configs", []):
        ctx.extra_labels["job"].add(job.get("job_name"))
        for static in job.get("static_configs", []):
            for label, value in (static.get("labels") or {}).items():
                ctx.extra_labels.setdefault(label, set()).add(value)
            for target in static.get("targets", []):
                host, _, port = target.partition(":")
                scraped.add(host)
                service = services.get(host)
                if not report.check(service is not None, f"job {job.get('job_name')}: target {target} is a compose service"):
                    continue
                role = role_of(service.get("command") or [])
                if not report.check(role, f"job {job.get('job_name')}: {host} is a cbdc service"):
                    continue
                report.check(int(port or 0) == ctx.compose_listen.get(host), f"job {job.get('job_name')}: {target} is the port {host} listens on")
                metrics_path = job.get("metrics_path", "/metrics")
                report.check(metrics_path in ctx.code.routes(role), f"job {job.get('job_name')}: {metrics_path} is a route of {role}")
    for host in ("ledger", "gateway-a", "gateway-b", "wallet-api"):
        report.check(host in scraped, f"{host} is scraped")
    rules = config.get("rule_files", [])
    prom_mounts = {t: s for s, t, _, _ in compose_mounts(services.get("prometheus", {}))}
    for rule_file in rules:
        source = prom_mounts.get(rule_file)
        if not report.check(source, f"rule file {rule_file} is mounted"):
            continue
        try:
            groups = yaml.safe_load(read(os.path.join(ctx.deploy, source)))
        except (OSError, yaml.YAMLError) as e:
            report.fail(f"{source} does not parse: {e}")
            continue
        for group in groups.get("groups", []):
            for rule in group.get("rules", []):
                where = f"{os.path.basename(source)}: {rule.get('alert') or rule.get('record')}"
                check_promql(report, ctx.code, where, rule.get("expr", ""), ctx.extra_labels)
    report.check(prom_mounts.get("/etc/prometheus/prometheus.yml") == "./prometheus/prometheus.yml",
                 "compose mounts deploy/prometheus/prometheus.yml as Prometheus' configuration")
    extra = os.path.join(ctx.deploy, "prometheus", "kubernetes.yml")
    if os.path.exists(extra):
        try:
            yaml.safe_load(read(extra))
            report.ok("deploy/prometheus/kubernetes.yml parses")
        except yaml.YAMLError as e:
            report.fail(f"deploy/prometheus/kubernetes.yml does not parse: {e}")


def check_grafana(report, ctx):
    report.start("Grafana")
    services = (ctx.compose or {}).get("services", {})
    mounts = {s: t for s, t, _, _ in compose_mounts(services.get("grafana", {}))}
    datasource_uids = set()
    for path in sorted(glob.glob(os.path.join(ctx.deploy, "grafana", "provisioning", "datasources", "*.yml"))):
        try:
            data = yaml.safe_load(read(path))
        except yaml.YAMLError as e:
            report.fail(f"{os.path.relpath(path, ctx.deploy)} does not parse: {e}")
            continue
        for source in data.get("datasources", []):
            datasource_uids.add(source.get("uid"))
            parts = url_parts(source.get("url", "")) or {}
            report.check(source.get("type") == "prometheus" and parts.get("host") == "prometheus" and parts.get("port") == 9090,
                         f"datasource {source.get('name')} is the compose file's Prometheus ({source.get('url')})")
    dashboards_mount = mounts.get("./grafana/dashboards")
    report.check(mounts.get("./grafana/provisioning") == "/etc/grafana/provisioning", "compose mounts the provisioning directory")
    for path in sorted(glob.glob(os.path.join(ctx.deploy, "grafana", "provisioning", "dashboards", "*.yml"))):
        try:
            data = yaml.safe_load(read(path))
        except yaml.YAMLError as e:
            report.fail(f"{os.path.relpath(path, ctx.deploy)} does not parse: {e}")
            continue
        for provider in data.get("providers", []):
            report.check(provider.get("options", {}).get("path") == dashboards_mount,
                         f"dashboard provider {provider.get('name')} reads {provider.get('options', {}).get('path')}, where compose mounts deploy/grafana/dashboards")
    dashboards = sorted(glob.glob(os.path.join(ctx.deploy, "grafana", "dashboards", "*.json")))
    report.check(dashboards, "deploy/grafana/dashboards has a dashboard")
    for path in dashboards:
        name = os.path.relpath(path, ctx.deploy)
        try:
            dash = json.loads(read(path))
        except (OSError, json.JSONDecodeError) as e:
            report.fail(f"{name} is not JSON: {e}")
            continue
        report.ok(f"{name} is JSON")
        variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
        panels = []
        for panel in dash.get("panels", []):
            panels.append(panel)
            panels.extend(panel.get("panels", []))
        titles = [p.get("title", "").lower() for p in panels if p.get("type") != "row"]
        exprs = " ".join(t.get("expr", "") for p in panels for t in p.get("targets", []))
        for want, test in (
            ("supply", lambda: any("supply" in t for t in titles) and "cbdc_ledger_supply_outstanding_minor_units" in exprs),
            ("payments per second", lambda: any("payments per second" in t for t in titles)),
            ("latency p50 and p99", lambda: any("latency" in t for t in titles) and "histogram_quantile(0.5," in exprs and "histogram_quantile(0.99," in exprs),
            ("rejections by code", lambda: any("rejections by code" in t for t in titles) and "cbdc_ledger_transactions_rejected_total" in exprs),
        ):
            report.check(test(), f"{name}: has a panel for {want}")
        ids = [p.get("id") for p in panels]
        report.check(len(ids) == len(set(ids)), f"{name}: panel ids are unique")
        for panel in panels:
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel.get("datasource") or {}
                uid = ds.get("uid", "") if isinstance(ds, dict) else ds
                report.check(uid in datasource_uids or uid.strip("${}") in variables,
                             f"{name}: “{panel.get('title')}” {target.get('refId')} uses a known datasource ({uid})")
                check_promql(report, ctx.code, f"{name}: “{panel.get('title')}” {target.get('refId')}", target.get("expr", ""), ctx.extra_labels)


# ---------------------------------------------------------------------------
# checks: Kubernetes


@functools.lru_cache(maxsize=None)
def validate_cached(text, version):
    try:
        kubernetes_validate.validate(json.loads(text), version, strict=True)
        return None
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        return f"{path}: {e.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
        return f"no schema: {e.message}"


def kustomize(report, ctx, directory, seen=()):
    """A small `kustomize build` of the features deploy/kubernetes uses."""
    rel = os.path.relpath(directory, ctx.deploy)
    path = os.path.join(directory, "kustomization.yaml")
    try:
        k = yaml.safe_load(read(path))
    except (OSError, yaml.YAMLError) as e:
        report.fail(f"{rel}/kustomization.yaml does not parse: {e}")
        return []
    unknown = set(k) - KUSTOMIZATION_KEYS
    report.check(not unknown, f"{rel}/kustomization.yaml uses only fields this check builds", f"unknown: {sorted(unknown)}")
    report.check(k.get("kind") == "Kustomization" and str(k.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"),
                 f"{rel}/kustomization.yaml is a Kustomization")
    resources = []
    listed = set()
    for entry in k.get("resources", []):
        target = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(target):
            resources.extend(kustomize(report, ctx, target, seen + (directory,)))
        elif report.check(os.path.exists(target), f"{rel}: resource {entry} exists"):
            listed.add(target)
            try:
                for doc in load_yaml_all(target):
                    doc = copy.deepcopy(doc)
                    doc.setdefault("metadata", {}).setdefault("annotations", {})
                    resources.append((os.path.relpath(target, ctx.deploy), doc))
            except yaml.YAMLError as e:
                report.fail(f"{os.path.relpath(target, ctx.deploy)} does not parse: {e}")
    for other in glob.glob(os.path.join(directory, "*.yaml")):
        if os.path.basename(other) != "kustomization.yaml":
            report.check(other in listed, f"{rel}: {os.path.basename(other)} is listed in resources")
    for generator in k.get("configMapGenerator", []) or []:
        data = {}
        for entry in generator.get("files", []):
            key, _, source = entry.partition("=") if "=" in entry else (os.path.basename(entry), "", entry)
            file = os.path.join(directory, source)
            if report.check(os.path.exists(file), f"{rel}: configMapGenerator {generator.get('name')}: {source} exists"):
                data[key] = read(file)
                ctx.generated_files[(generator.get("name"), key)] = file
        behavior = generator.get("behavior", "create")
        existing = [r for _, r in resources if r.get("kind") == "ConfigMap" and r["metadata"].get("name") == generator.get("name")]
        if behavior == "create":
            report.check(not existing, f"{rel}: ConfigMap {generator.get('name')} is made once")
            resources.append((f"{rel}/kustomization.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": generator.get("name")}, "data": data}))
        elif report.check(existing, f"{rel}: ConfigMap {generator.get('name')} to {behavior} exists"):
            existing[0]["data"] = data if behavior == "replace" else {**existing[0].get("data", {}), **data}
    namespace = k.get("namespace")
    if namespace:
        for _, r in resources:
            if r.get("kind") != "Namespace":
                r["metadata"]["namespace"] = namespace
    for image in k.get("images", []) or []:
        for _, r in resources:
            for container in pod_containers(r):
                if container.get("image", "").split(":")[0] == image.get("name"):
                    container["image"] = f"{image.get('newName', image.get('name'))}:{image.get('newTag', 'latest')}"
    for replica in k.get("replicas", []) or []:
        match = [r for _, r in resources if r.get("kind") == "Deployment" and r["metadata"].get("name") == replica.get("name")]
        if report.check(match, f"{rel}: replicas of {replica.get('name')}, a Deployment"):
            match[0]["spec"]["replicas"] = replica.get("count")
    for _, r in resources:
        if not r["metadata"].get("annotations"):
            r["metadata"].pop("annotations", None)
    return resources


def pod_spec(resource):
    if resource.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return resource.get("spec", {}).get("template", {}).get("spec", {})
    return None


def pod_containers(resource, init=True):
    spec = pod_spec(resource) or {}
    return list(spec.get("initContainers", []) if init else []) + list(spec.get("containers", []))


def check_kubernetes(report, ctx):
    report.start("Kubernetes")
    root = os.path.join(ctx.deploy, "kubernetes")
    kustomizations = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "kustomization.yaml"), recursive=True))
    report.check(os.path.join(root, "base") in kustomizations, "deploy/kubernetes/base is a kustomization")
    # Every manifest file on its own.
    files = [p for p in glob.glob(os.path.join(root, "**", "*.yaml"), recursive=True) if os.path.basename(p) != "kustomization.yaml"]
    for path in sorted(files):
        rel = os.path.relpath(path, ctx.deploy)
        try:
            docs = load_yaml_all(path)
        except yaml.YAMLError as e:
            report.fail(f"{rel} does not parse: {e}")
            continue
        for doc in docs:
            for version in KUBERNETES_VERSIONS:
                why = validate_cached(json.dumps(doc, sort_keys=True), version)
                report.check(why is None, f"{rel}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')} validates against Kubernetes {version[:-2]} (strict)",
                             f"did not validate: {why}")
            for container in pod_containers(doc):
                image = container.get("image", "")
                report.check(image == IMAGE, f"{rel}: container {container.get('name')} runs image `{image}`",
                             f"every container runs `{IMAGE}` (deploy/Dockerfile; the kustomization's `images` names the registry)")
    for directory in kustomizations:
        rel = os.path.relpath(directory, ctx.deploy)
        ctx.generated_files = {}
        resources = kustomize(report, ctx, directory)
        report.info(f"{rel}: builds {len(resources)} resources")
        for source, resource in resources:
            for version in KUBERNETES_VERSIONS:
                why = validate_cached(json.dumps(resource, sort_keys=True), version)
                report.check(why is None, f"{rel} (built): {resource.get('kind')}/{resource['metadata'].get('name')} validates against Kubernetes {version[:-2]} (strict)",
                             f"did not validate: {why}")
        check_built(report, ctx, rel, [r for _, r in resources])


def check_built(report, ctx, rel, resources):
    by_kind = {}
    for r in resources:
        by_kind.setdefault(r.get("kind"), {})[r["metadata"].get("name")] = r
    namespaces = set(by_kind.get("Namespace", {}))
    for r in resources:
        if r.get("kind") != "Namespace":
            report.check(r["metadata"].get("namespace") in namespaces, f"{rel}: {r.get('kind')}/{r['metadata'].get('name')} is in a namespace the build makes")
    configmaps = by_kind.get("ConfigMap", {})
    services = by_kind.get("Service", {})
    secrets_used = set()
    deployments = by_kind.get("Deployment", {})
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        where = f"{rel}: {name}"
        labels = deployment["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        selector = deployment["spec"].get("selector", {}).get("matchLabels", {})
        report.check(selector and all(labels.get(k) == v for k, v in selector.items()), f"{where}: its selector matches its pods")
        pod_security = spec.get("securityContext", {})
        report.check(pod_security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
        report.check(pod_security.get("runAsUser") == ctx.uid, f"{where}: runAsUser {pod_security.get('runAsUser')} is the image's USER ({ctx.uid})")
        report.check(pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v:
                report.check(v["configMap"].get("name") in configmaps, f"{where}: volume {v['name']} is ConfigMap {v['configMap'].get('name')}, which the build makes")
            if "secret" in v:
                for item in v["secret"].get("items", []) or [{"key": "*"}]:
                    secrets_used.add((v["secret"].get("secretName"), item["key"]))
        for container in pod_containers(deployment):
            cwhere = f"{where}/{container.get('name')}"
            security = container.get("securityContext", {})
            report.check(security.get("allowPrivilegeEscalation") is False and security.get("readOnlyRootFilesystem") is True
                         and security.get("capabilities", {}).get("drop") == ["ALL"],
                         f"{cwhere}: no privilege escalation, read-only root, no capabilities")
            resources_ = container.get("resources", {})
            report.check(all(k in resources_.get(part, {}) for part in ("requests", "limits") for k in ("cpu", "memory")),
                         f"{cwhere}: CPU and memory requests and limits")
            image = container.get("image", "")
            report.check(image.split(":")[0].split("/")[-1] == IMAGE, f"{cwhere}: image {image} is deploy/Dockerfile's")
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secrets_used.add((ref.get("name"), ref.get("key")))
            for mount in container.get("volumeMounts", []):
                report.check(mount.get("name") in volumes, f"{cwhere}: mounts volume {mount.get('name')}, which the pod has")
        for container in spec.get("containers", []):
            check_k8s_container(report, ctx, f"{where}/{container.get('name')}", deployment, container, volumes, configmaps, services)
        role = role_of(spec.get("containers", [{}])[0].get("args", []))
        if role == "ledger":
            report.check(deployment["spec"].get("replicas") == 1, f"{where}: the ledger runs one replica ({deployment['spec'].get('replicas')})")
            report.check(deployment["spec"].get("strategy", {}).get("type") == "Recreate", f"{where}: the old ledger stops before the new one starts (Recreate)")
    for name, service in services.items():
        selector = service["spec"].get("selector", {})
        targets = [d for d in deployments.values()
                   if all(d["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
        if not report.check(len(targets) == 1, f"{rel}: Service {name} selects one Deployment ({', '.join(d['metadata']['name'] for d in targets)})"):
            continue
        container_ports = {p.get("name"): p.get("containerPort") for c in pod_spec(targets[0]).get("containers", []) for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            number = container_ports.get(target) if isinstance(target, str) else target
            report.check(number in container_ports.values(), f"{rel}: Service {name} port {port.get('port')} reaches container port {target}")
            report.check(port.get("port") == number, f"{rel}: Service {name} port {port.get('port')} is the container's ({number}), so URLs read alike everywhere")
    # Every Secret and key they reference is documented.
    readme_lines = ctx.readme.splitlines()
    for secret, key in sorted(secrets_used):
        rows = [l for l in readme_lines if f"`{secret}`" in l]
        report.check(rows and (key == "*" or any(f"`{key}`" in l for l in rows)),
                     f"{rel}: Secret `{secret}` key `{key}` is documented in deploy/README.md",
                     "not documented in the README's table of Secrets")


def check_k8s_container(report, ctx, where, deployment, container, volumes, configmaps, services):
    args = list(container.get("command", [])) + list(container.get("args", []))
    role = role_of(args)
    if not report.check(role, f"{where}: runs `cbdc <role> serve` ({' '.join(args[:2])})"):
        return
    spec = ROLES[role]
    env = {e["name"]: e for e in container.get("env", [])}
    check_cli(report, ctx.code, ctx.binary, where, args, env_names=set(env))
    value = env.get(spec["listen_env"], {}).get("value", "")
    port = port_of(value)
    report.check(value.startswith("0.0.0.0:"), f"{where}: {spec['listen_env']}={value} listens on every interface")
    report.check(str(port) in ctx.code.default_port(role), f"{where}: port {port} is {role}'s default in the code")
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    report.check(port in ports.values(), f"{where}: containerPort {sorted(ports.values())} is its listen port {port}")
    routes = ctx.code.routes(role)
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", None)):
        p = container.get(probe)
        if p is None and path is None:
            continue
        if not report.check(p and "httpGet" in p, f"{where}: has an HTTP {probe}"):
            continue
        got = p["httpGet"].get("path")
        target = p["httpGet"].get("port")
        report.check((path is None or got == path) and got in routes, f"{where}: {probe} asks {got}, a route of {role}",
                     f"wanted {path or 'a route'}; {role}'s routes include {', '.join(r for r in sorted(routes) if not r.startswith('/v1')) or 'none'}")
        report.check((ports.get(target) if isinstance(target, str) else target) == port, f"{where}: {probe} asks port {target}, the one it listens on")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") == "true":
        report.check(annotations.get("prometheus.io/port") == str(port), f"{where}: scraped on its port")
        report.check(annotations.get("prometheus.io/path") in routes, f"{where}: scraped at {annotations.get('prometheus.io/path')}, a route of {role}")
    # Its configuration file: mounted from a generated ConfigMap, settings the code has.
    if "--config" in args:
        target = args[args.index("--config") + 1]
        found = None
        for mount in container.get("volumeMounts", []):
            if target.startswith(mount["mountPath"].rstrip("/") + "/"):
                volume = volumes.get(mount["name"], {})
                name = volume.get("configMap", {}).get("name")
                key = target[len(mount["mountPath"].rstrip("/")) + 1 :]
                found = ctx.generated_files.get((name, key))
        if report.check(found, f"{where}: --config {target} is a file of a generated ConfigMap"):
            data = check_config_file(report, ctx.code, role, found, f"{where}: {os.path.relpath(found, ctx.deploy)}") or {}
            check_k8s_config(report, ctx, where, role, data, deployment, container, env, volumes, services)


def check_k8s_config(report, ctx, where, role, data, deployment, container, env, volumes, services):
    spec = pod_spec(deployment)
    for key in ("block_key", "bank_keys"):
        value = data.get(key)
        if not isinstance(value, str):
            continue
        mounts = [m for m in container.get("volumeMounts", []) if value.startswith(m["mountPath"].rstrip("/") + "/")]
        if not report.check(mounts, f"{where}: {key} {value} is in a mounted volume"):
            continue
        volume = volumes.get(mounts[0]["name"], {})
        if "emptyDir" in volume:
            writers = [c for c in spec.get("initContainers", [])
                       if value in " ".join(c.get("command", []) + c.get("args", []))
                       and any(m["name"] == mounts[0]["name"] for m in c.get("volumeMounts", []))]
            report.check(writers, f"{where}: {key} {value} is written by an init container from a Secret")
            report.check(volume["emptyDir"].get("medium") == "Memory", f"{where}: {key} stays in memory (emptyDir medium Memory)")
    if role == "ledger":
        report.check("DATABASE_URL" in env or "database_url" in data, f"{where}: has a database")
    if role == "gateway":
        for var in ("CBDC_GATEWAY_DATABASE_URL", "CBDC_GATEWAY_KEK", "CBDC_GATEWAY_OPERATOR_TOKEN", "CBDC_GATEWAY_INTERNAL_TOKEN"):
            report.check("secretKeyRef" in env.get(var, {}).get("valueFrom", {}), f"{where}: {var} comes from a Secret")
        report.check(not any(k in data for k in ("kek", "operator_tokens", "internal_tokens", "database_url")),
                     f"{where}: no secret in its ConfigMap")
    if role == "wallet-api":
        ids = {env_id(b.get("id", "")): b for b in data.get("banks", []) or [] if isinstance(b, dict)}
        for name in env:
            suffix = bank_token_id(name)
            if suffix is not None:
                report.check(suffix in ids, f"{where}: {name} is the token of a configured bank")
        for suffix, bank in ids.items():
            report.check("secretKeyRef" in env.get(BANK_TOKEN_PREFIX + suffix, {}).get("valueFrom", {}),
                         f"{where}: bank {bank.get('id')}'s token comes from a Secret")
        for var in ("CBDC_WALLET_API_DATABASE_URL", "CBDC_WALLET_API_OPERATOR_TOKEN"):
            report.check("secretKeyRef" in env.get(var, {}).get("valueFrom", {}), f"{where}: {var} comes from a Secret")
    urls = [("ledger_url", data.get("ledger_url"))] + [(f"banks.{b.get('id')}.url", b.get("url")) for b in data.get("banks", []) or [] if isinstance(b, dict)]
    for key, value in urls:
        parts = url_parts(value or "")
        if not parts:
            continue
        service = services.get(parts["host"])
        if report.check(service, f"{where}: {key} {value} names a Service"):
            report.check(parts["port"] in [p.get("port") for p in service["spec"].get("ports", [])], f"{where}: {key} uses a port of Service {parts['host']}")


# ---------------------------------------------------------------------------
# checks: the README and the requirements


def check_readme(report, ctx):
    report.start("README")
    readme = ctx.readme
    if not report.check(readme, "deploy/README.md exists"):
        return
    for needle, what in (
        ("docker build -f deploy/Dockerfile", "how to build the image"),
        ("cbdc keygen", "how to make keys"),
        ("cbdc bank admit", "how to admit a bank"),
        ("cbdc issue approve", "how officers approve a float"),
        ("docker compose -f deploy/compose.yaml", "how to run compose"),
        ("kubectl apply -k", "how to apply the kustomization"),
        ("create secret generic", "how to make the Secrets"),
    ):
        report.check(needle in readme, f"says {what} (`{needle}`)")
    requirements = os.path.join(ctx.root, "clients", "python", "requirements-test.txt")
    text = read(requirements) if os.path.exists(requirements) else ""
    for package in ("kubernetes-validate", "PyYAML"):
        report.check(re.search(r"^" + re.escape(package) + r"\b", text, re.M | re.I), f"clients/python/requirements-test.txt installs {package}")


# ---------------------------------------------------------------------------
# the whole run


class Context:
    def __init__(self, root, deploy, binary, report):
        self.root = root
        self.deploy = deploy
        self.binary = Binary(binary) if binary else None
        self.code = code_of(root)
        self.uid = None
        self.rust_version = None
        self.compose = None
        self.compose_listen = {}
        self.compose_configs = {}
        self.extra_labels = {}
        self.generated_files = {}
        self.readme = ""


def run_checks(root, deploy, binary=None, quiet=False):
    report = Report(quiet)
    ctx = Context(root, deploy, binary, report)
    report.start("code")
    for role in ROLES:
        files = ctx.code.role_files[role]
        report.check(files, f"{role}: sources {', '.join(ROLES[role]['sources'])} ({len(files)} files)")
        report.check(ctx.code.default_port(role), f"{role}: default port {', '.join(sorted(ctx.code.default_port(role))) or '?'} in the code")
        routes = ctx.code.routes(role)
        for route in ("/healthz", "/readyz", "/metrics"):
            report.check(route in routes, f"{role}: route {route}")
        names = ctx.code.metrics[role]["names"]
        report.check(names, f"{role}: {len(names)} registered metrics")
    if binary:
        report.check(os.access(binary, os.X_OK), f"the binary {binary} runs")
    check_dockerfile(report, ctx)
    check_compose(report, ctx)
    check_prometheus(report, ctx)
    check_grafana(report, ctx)
    check_readme(report, ctx)
    check_kubernetes(report, ctx)
    return report


# ---------------------------------------------------------------------------
# the self-test: each mistake below must make the checks fail


MUTATIONS = [
    ("a readiness probe on a path the ledger does not serve",
     "kubernetes/base/ledger.yaml", "path: /readyz", "path: /ready", "readinessProbe asks /ready"),
    ("a dashboard query of a metric nobody exports",
     "grafana/dashboards/cbdc.json", '"cbdc_ledger_supply_outstanding_minor_units"', '"cbdc_ledger_supply_outstanding"', "unknown metric `cbdc_ledger_supply_outstanding`"),
    ("an alert on a mistyped metric",
     "prometheus/alerts.yml", "cbdc_gateway_chain_alarm == 1", "cbdc_gateway_chain_alarms == 1", "unknown metric `cbdc_gateway_chain_alarms`"),
    ("a label value the code never uses",
     "grafana/dashboards/cbdc.json", 'kind=\\"transfer\\"', 'kind=\\"transfers\\"', 'kind="transfers"'),
    ("a scrape target on the wrong port",
     "prometheus/prometheus.yml", '"gateway-a:7500"', '"gateway-a:7501"', "gateway-a:7501 is the port"),
    ("a mistyped environment variable",
     "compose.yaml", "      CBDC_GATEWAY_KEK: ${BANK_A_KEK", "      CBDC_GATEWAY_KEY: ${BANK_A_KEK", "`CBDC_GATEWAY_KEY`"),
    ("a compose file that does not parse",
     "compose.yaml", "services:\n", "services:\n\t", "does not parse"),
    ("a manifest that breaks the schema",
     "kubernetes/base/wallet-api.yaml", "livenessProbe:", "livenesProbe:", "did not validate"),
    ("a setting the gateway does not have",
     "compose/gateway-a.toml", "follower_lease_ms", "follower_lease", "unknown setting `follower_lease`"),
    ("a setting of the wrong type",
     "kubernetes/base/config/ledger.toml", "threshold = 2", 'threshold = "2"', "is not a usize"),
    ("another image than deploy/Dockerfile's",
     "kubernetes/base/gateway-b.yaml", "image: cbdc\n", "image: nginx:1.27\n", "runs image `nginx:1.27`"),
    ("a health check on the wrong path",
     "compose.yaml", "7400/readyz", "7400/ready", "health check path /ready"),
    ("an image that runs as root",
     "Dockerfile", "USER 10001:10001", "USER root", "non-root"),
    ("a subcommand that does not exist",
     "compose.yaml", '["ledger", "serve",', '["ledger", "run",', "runs `cbdc <role> serve`"),
    ("a container port that is not the listen port",
     "kubernetes/base/ledger.yaml", "containerPort: 7400", "containerPort: 7401", "containerPort [7401]"),
    ("a Secret key the README does not document",
     "kubernetes/base/gateway-a.yaml", "key: kek\n", "key: kek-2\n", "key `kek-2` is documented"),
    ("a bank token of a bank the wallet API does not know",
     "compose.yaml", "CBDC_WALLET_API_BANK_TOKEN_BANK_B:", "CBDC_WALLET_API_BANK_TOKEN_BANK_C:", "BANK_TOKEN_BANK_C is the token of a configured bank"),
    ("a database the init script does not make",
     "compose.yaml", "@postgres:5432/gateway_b", "@postgres:5432/gateway_c", "database `gateway_c`"),
    ("a script calling a subcommand that does not exist",
     "compose/approve-floats.sh", "cbdc issue approve", "cbdc issue aprove", "`aprove` is not a subcommand"),
    ("a ledger with two replicas",
     "kubernetes/overlays/production/kustomization.yaml", "  - name: gateway-b\n    count: 2", "  - name: ledger\n    count: 2", "the ledger runs one replica"),
]


def self_test(root):
    started = time.time()
    print("self-test: each mistake below must make deploy/check.py fail")
    with tempfile.TemporaryDirectory() as tmp:
        pristine = os.path.join(tmp, "deploy")
        shutil.copytree(os.path.join(root, "deploy"), pristine, ignore=shutil.ignore_patterns(".env", "__pycache__"))
        baseline = set(run_checks(root, pristine, quiet=True).failures)
        if baseline:
            print(f"self-test: {len(baseline)} failures already without a mistake (shown by the plain run); "
                  "each mistake must add its own")
        problems = []
        for what, rel, old, new, expected in MUTATIONS:
            work = os.path.join(tmp, "mutated")
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(pristine, work)
            path = os.path.join(work, rel)
            text = read(path)
            if old not in text:
                problems.append(f"{what}: `{old}` is not in deploy/{rel} (update the self-test)")
                print(f"  FAIL  {what}: `{old}` not found in deploy/{rel}")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            failures = [f for f in run_checks(root, work, quiet=True).failures if f not in baseline]
            caught = [f for f in failures if expected in f]
            if caught:
                print(f"  ok    {what}: {caught[0]}")
            else:
                problems.append(f"{what} (deploy/{rel}): no new failure mentions `{expected}`; new failures: {failures[:3]}")
                print(f"  FAIL  {what}: not caught (new failures: {failures[:3]})")
    print(f"self-test: {len(MUTATIONS) - len(problems)} of {len(MUTATIONS)} mistakes caught in {time.time() - started:.1f} s")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cbdc", metavar="BINARY", help="also ask this cbdc binary's --help about every command, flag and variable")
    parser.add_argument("--self-test", action="store_true", help="check that the checks catch broken files (a copy in a temporary directory)")
    parser.add_argument("--deploy-dir", default=os.path.join(REPO, "deploy"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.self_test:
        problems = self_test(REPO)
        if problems:
            print("\ncheck.py --self-test: these mistakes were not caught:\n  " + "\n  ".join(problems))
            sys.exit(1)
        return
    started = time.time()
    report = run_checks(REPO, os.path.abspath(args.deploy_dir), binary=args.cbdc)
    print(f"\ncheck.py: {report.passed} checks passed, {len(report.failures)} failed in {time.time() - started:.1f} s"
          + ("" if args.cbdc else " (without --cbdc: the binary's --help was not asked)"))
    if report.failures:
        print("failures:\n  " + "\n  ".join(report.failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
