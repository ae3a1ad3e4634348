#!/usr/bin/env python3
"""The container contract test: holds the descriptions of the system in agreement.

The pipeline is described four times: by the code (Package.swift and the variables the Swift
sources read), by .env.example, by docker-compose.yml with the Dockerfile, and by the local
scripts (scripts/run.sh, scripts/gen-keys.sh). This test reads them all and fails when they
disagree:

- every variable the stages read is in .env.example (with the code's default) and in the
  compose environment of every service whose binary reads it, and compose passes no variable a
  binary cannot read; compose's own defaults are the code's, except for what describes the
  containers (service names, in-network ports, mount paths), which must match the services,
  ports and mounts;
- every service's command names an executable that Package.swift builds and the Dockerfile
  puts into the image, and the local run starts the same executables;
- ports, paths and volume mounts match the code's defaults under the image's working directory,
  which mirrors the repository (same file layout as the local run);

What a real run shows is checked by scripts/compose-check.sh instead, on a Docker engine: that
every command's executable is in the image with its resource bundles, that the runtime image has
exactly the libraries the binaries link, that keygen prepares the bind mounts and that the saver's
known_hosts matches the sftp service. This test keeps what a run cannot see: the agreement of
names, defaults and settings a run does not exercise.

Run: python3 scripts/container-contract.py [-v] [--root DIR]   (scripts/test.sh runs it)
Needs PyYAML and `swift` (for `swift package dump-package`).
"""

import argparse
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import yaml
except ImportError:  # Debian's python3-yaml (scripts/check-compose.sh installs it)
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("container-contract: needs PyYAML (pip install pyyaml, or apt-get install python3-yaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The stage services and the image they run; `dummyjson` runs the same image (the fixture).
STAGE_SERVICES = ["extractor", "transformer", "saver", "api"]
FIXTURE_SERVICE = "dummyjson"
APP_IMAGE = "etl-pipeline:latest"

# What compose sets itself rather than reading from .env: where things are inside the
# container network and the image (each checked against the services and mounts below).
TOPOLOGY = {
    "REDIS_URL", "SFTP_HOST", "SFTP_PORT", "API_HOST", "API_PORT",
    "DATA_DIR", "DB_PATH", "SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS",
}
# Empty in .env.example on purpose: the launchers (scripts/run.sh, compose) then use the bundled
# fixture, while the binary alone defaults to the real API.
EMPTY_MEANS_BUNDLED_FIXTURE = {"DUMMYJSON_URL"}
# The fixture's variables the launchers pass on (scripts/run.sh and compose), listed in .env.example.
LAUNCHER_FIXTURE_VARIABLES = {"FIXTURE_USERS", "FIXTURE_BAD_FRACTION"}
# Variables only compose reads (no binary does), listed in .env.example: the host address the
# API's port is published on, loopback unless widened.
COMPOSE_ONLY_VARIABLES = {"API_PUBLISH_ADDRESS": "127.0.0.1"}
# Set by the container runtime, not by compose or .env: Docker gives every container HOSTNAME
# (its id, kept across restarts), which the stages use as their instance identity.
RUNTIME_PROVIDED_VARIABLES = {"HOSTNAME"}
# Listed in .env.example for processes run by hand, but never passed by compose: replicas of one
# service would share it (under compose each container's HOSTNAME is its identity).
PER_PROCESS_VARIABLES = {"INSTANCE_ID"}
# Listed in .env.example for processes run by hand, but not passed by compose: a path on the host
# (compose passes SFTP_ENCRYPT_RECIPIENTS, the keys themselves, instead of mounting a file).
HOST_PATH_VARIABLES = {"SFTP_ENCRYPT_RECIPIENTS_FILE"}

# Runtime packages that are tools, not libraries the binaries link (scripts/compose-check.py
# checks that every other package the runtime stage installs is linked by a binary in the image).
RUNTIME_TOOLS = {"ca-certificates": "CA roots for https upstreams", "curl": "the API's health check",
                 "age": "the saver's encrypted uploads (SFTP_ENCRYPT_RECIPIENTS)"}



def rel(path):
    return os.path.relpath(path, ROOT)


# --------------------------------------------------------------------------------------------
# Reading the repository
# --------------------------------------------------------------------------------------------

_cache = {}


def cached(fn):
    def wrapper():
        if fn.__name__ not in _cache:
            _cache[fn.__name__] = fn()
        return _cache[fn.__name__]
    wrapper.__name__ = fn.__name__
    return wrapper


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


@cached
def package():
    """Package.swift as SwiftPM sees it. A scratch path of its own, so it never waits for the
    lock of a build running in .build."""
    cached_json = os.environ.get("CONTRACT_PACKAGE_JSON")
    if cached_json:
        with open(cached_json, encoding="utf-8") as f:
            return json.load(f)
    scratch = os.path.join(ROOT, ".run", "manifest-scratch")
    out = subprocess.run(
        ["swift", "package", "--package-path", ROOT, "--scratch-path", scratch, "dump-package"],
        capture_output=True, text=True, timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"swift package dump-package failed:\n{out.stderr}")
    return json.loads(out.stdout)


def executables():
    return {p["name"]: p["targets"] for p in package()["products"] if "executable" in p["type"]}


def targets():
    return {t["name"]: t for t in package()["targets"]}


def target_path(name):
    t = targets()[name]
    if t.get("path"):
        return t["path"]
    return ("Tests/" if t["type"] == "test" else "Sources/") + name


def local_dependencies(name):
    deps = []
    for d in targets()[name]["dependencies"]:
        for kind in ("byName", "target"):
            if kind in d and d[kind][0] in targets():
                deps.append(d[kind][0])
    return deps


def closure(names):
    seen, todo = [], list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.append(n)
            todo.extend(local_dependencies(n))
    return seen


def swift_files(target):
    base = os.path.join(ROOT, target_path(target))
    for dirpath, _, files in os.walk(base):
        for f in sorted(files):
            if f.endswith(".swift"):
                yield os.path.join(dirpath, f)


def strip_comments(text):
    """The text with comments blanked out (same length), string literals kept."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        if text.startswith('"""', i):
            j = text.find('"""', i + 3)
            i = n if j < 0 else j + 3
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
            i = j
        else:
            i += 1
    return "".join(out)


# Reads of a variable, in the shapes the sources use: Environment's typed getters
# (env.int("NAME", default: 100, in: ...)), SFTPConfiguration's value("NAME", "default"),
# and dictionary lookups (environment["NAME"]).
READ_PATTERNS = [
    re.compile(r'\b(?:env|environment|Environment\(\))\s*\.\s*(?P<kind>\w+)\(\s*"(?P<name>[A-Z][A-Z0-9_]*)"'
               r'(?:\s*,\s*default:\s*(?P<default>"[^"]*"|[\w.]+))?'),
    re.compile(r'\bvalue\(\s*"(?P<name>[A-Z][A-Z0-9_]*)"\s*,\s*(?P<default>"[^"]*")\s*\)'),
    re.compile(r'\b(?:environment|variables|env)\s*\[\s*"(?P<name>[A-Z][A-Z0-9_]*)"\s*\]'),
]
FIXTURE_TARGETS = {"DummyJSONFixture", "DummyJSON"}


def is_test_hook(name):
    return name.startswith("TEST_") or "_TEST_" in name


def literal_default(raw):
    if raw is None:
        return None
    if raw.startswith('"'):
        return raw[1:-1]
    if re.fullmatch(r"-?[0-9_]+(\.[0-9_]+)?", raw):
        return raw.replace("_", "")
    if re.fullmatch(r"[\w.]+\.(\w+)", raw):  # an enum case: Level.info -> info
        return raw.rsplit(".", 1)[1]
    return None


class SourceFile:
    """A Swift file's variable reads, grouped by the declaration (init or func) they are in."""

    DECL = re.compile(r"(?<![.\w])(?:(?P<init>init)|func\s+(?P<func>\w+))\s*(?:<[^>{]*>)?\(\s*(?P<label>\w+)?")
    TYPE = re.compile(r"\b(?:struct|class|enum|actor|extension)\s+(?P<type>[\w.]+)")

    def __init__(self, path, target):
        self.path, self.target = path, target
        with open(path, encoding="utf-8") as f:
            self.text = strip_comments(f.read())
        self.reads = []  # (name, default or None, offset)
        for pattern in READ_PATTERNS:
            for m in pattern.finditer(self.text):
                d = m.groupdict().get("default")
                self.reads.append((m.group("name"), literal_default(d), m.start()))
        self.units = self._units()

    def _body_end(self, start):
        i = self.text.find("{", start)
        if i < 0:
            return len(self.text)
        depth = 0
        for j in range(i, len(self.text)):
            c = self.text[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
        return len(self.text)

    def _units(self):
        """Declarations that read variables: the token a caller writes, the names, the body."""
        decls = [m for m in self.DECL.finditer(self.text)]
        units = {}
        for name, _, offset in self.reads:
            owner = None
            for d in decls:
                if d.start() < offset <= self._body_end(d.start()):
                    owner = d  # the innermost: later declarations come later in the list
            if owner is None:
                continue
            if owner.group("init"):
                # The innermost type whose body holds the initializer.
                types = [t for t in self.TYPE.finditer(self.text, 0, owner.start())
                         if owner.start() < self._body_end(t.start())]
                if not types:
                    continue
                type_name = types[-1].group("type").split(".")[-1]
                label = owner.group("label")
                token = rf"\b{type_name}\(\s*{label}:" if label and label != "_" else rf"\b{type_name}\("
            else:
                token = rf"\b{owner.group('func')}\("
            unit = units.setdefault(owner.start(), {
                "token": re.compile(token), "names": set(),
                "body": self.text[owner.start():self._body_end(owner.start())],
                "where": f"{rel(self.path)}",
            })
            unit["names"].add(name)
        return list(units.values())


@cached
def sources():
    """The Swift files of every target the services' executables link (benchmarks, test support
    and the fixture apart)."""
    files = []
    shipped = closure([t for e in service_executables() if e in executables() for t in executables()[e]])
    for name in shipped:
        if targets()[name]["type"] in ("regular", "executable") and name not in FIXTURE_TARGETS:
            for path in swift_files(name):
                files.append(SourceFile(path, name))
    return files


@cached
def code_variables():
    """name -> {"defaults": set of literal defaults, "where": [files]} for every variable the
    pipeline's sources read (the fixture's FIXTURE_* and test hooks apart)."""
    found = {}
    for f in sources():
        for name, default, _ in f.reads:
            if is_test_hook(name) or name.startswith("FIXTURE_") or name in RUNTIME_PROVIDED_VARIABLES:
                continue
            entry = found.setdefault(name, {"defaults": set(), "where": set()})
            if default is not None:
                entry["defaults"].add(default)
            entry["where"].add(rel(f.path))
    return found


@cached
def test_hooks():
    return sorted({n for f in sources() for n, _, _ in f.reads if is_test_hook(n)})


@cached
def fixture_variables():
    names = set()
    for target in FIXTURE_TARGETS & set(targets()):
        for path in swift_files(target):
            with open(path, encoding="utf-8") as f:
                names |= set(re.findall(r'"(FIXTURE_[A-Z0-9_]+)"', f.read()))
    return names


def variables_read_by(executable):
    """(needed, possible): the variables the executable's settings code reads, following calls
    from its own targets into shared ones; and every variable any target it links reads."""
    linked = closure(executables()[executable])
    services = [e for e in executables() if e in service_executables()]
    shared = set()
    for other in services:
        if other != executable:
            shared |= set(closure(executables()[other]))
    own = [t for t in linked if t not in shared]
    files = [f for f in sources() if f.target in linked]
    possible = {n for f in files for n, _, _ in f.reads if not is_test_hook(n)}
    pool = "\n".join(f.text for f in files if f.target in own)
    needed = {n for f in files if f.target in own for n, _, _ in f.reads if not is_test_hook(n)}
    units = [u for f in files for u in f.units]
    used = set()
    changed = True
    while changed:
        changed = False
        for i, u in enumerate(units):
            if i not in used and u["token"].search(pool):
                used.add(i)
                needed |= u["names"]
                pool += "\n" + u["body"]
                changed = True
    return {n for n in needed if not is_test_hook(n)}, possible


@cached
def compose_raw():
    with open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env):
    def one(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg")
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?"):
            if not current:
                raise ValueError(f"{name} is required: {arg}")
            return current
        return current or ""
    if isinstance(value, str):
        return INTERPOLATION.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def compose(env=None):
    """docker-compose.yml with its ${VAR:-default}s filled from env (none: the defaults)."""
    return interpolate(compose_raw(), env or {})


def interpolated_names(node):
    names = set()
    if isinstance(node, str):
        for m in INTERPOLATION.finditer(node):
            if m.group(0) != "$$":
                names.add(m.group("braced") or m.group("plain"))
    elif isinstance(node, list):
        for v in node:
            names |= interpolated_names(v)
    elif isinstance(node, dict):
        for v in node.values():
            names |= interpolated_names(v)
    return names


def service_executables():
    names = set()
    for svc in compose_raw()["services"].values():
        if svc.get("image") == APP_IMAGE:
            names.add(command_of(svc)[0])
    return names


def command_of(svc):
    cmd = svc.get("command")
    return cmd if isinstance(cmd, list) else (cmd or "").split()


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def mounts_of(svc):
    """[(source, target, read_only)] for short-syntax volumes."""
    result = []
    for v in svc.get("volumes") or []:
        parts = v.split(":")
        mode = parts[2] if len(parts) > 2 else "rw"
        result.append((parts[0], parts[1], "ro" in mode.split(",")))
    return result


def mount_for(svc, container_path):
    """The mount that holds container_path (the longest target that is a prefix of it)."""
    best = None
    for source, target, ro in mounts_of(svc):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[1]):
                best = (source, target, ro)
    return best


@cached
def env_example():
    values = {}
    for line in read(".env.example").splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return values


@cached
def dockerfile():
    return read("Dockerfile")


def dockerfile_stage(name):
    stages = re.split(r"(?m)^FROM\s+", dockerfile())
    for s in stages[1:]:
        if re.match(rf"\S+\s+AS\s+{name}\b", s, re.I):
            return s
    raise AssertionError(f"Dockerfile has no stage named {name}")


def dockerfile_arg(name):
    m = re.search(rf'(?m)^ARG\s+{name}="?([^"\n]*)"?\s*$', dockerfile())
    if not m:
        raise AssertionError(f"Dockerfile declares no ARG {name}")
    return m.group(1)


def apt_packages(stage_text):
    m = re.search(r"apt-get install((?:[^\n]*\\\n)*[^\n]*)", stage_text)
    if not m:
        return set()
    words = m.group(1).replace("\\\n", " ").split("&&")[0].split()
    return {w for w in words if not w.startswith("-")}


def same(a, b):
    """Equal as settings: numbers compare as numbers (5 and 5.0), the rest as text."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------

class Variables(unittest.TestCase):
    """Every variable the code reads is in .env.example and compose, with the same defaults."""

    def test_the_code_reads_variables(self):
        self.assertGreater(len(code_variables()), 10, "the source scan found almost no variables: is READ_PATTERNS stale?")
        for must in ("REDIS_URL", "DATA_DIR", "DB_PATH", "SFTP_HOST", "API_PORT", "LOG_LEVEL"):
            self.assertTrue(must in code_variables(), f"{must} not found in the sources: is READ_PATTERNS stale?")

    def test_every_variable_the_code_reads_is_in_env_example(self):
        missing = sorted(set(code_variables()) - set(env_example()))
        self.assertEqual(missing, [], "read by the code but missing from .env.example: " +
                         ", ".join(f"{n} ({', '.join(sorted(code_variables()[n]['where']))})" for n in missing))

    def test_env_example_lists_only_variables_something_reads(self):
        known = set(code_variables()) | (LAUNCHER_FIXTURE_VARIABLES & fixture_variables()) | set(COMPOSE_ONLY_VARIABLES)
        extra = sorted(set(env_example()) - known)
        self.assertEqual(extra, [], "in .env.example but read by no stage (nor passed to the fixture by the launchers)")

    def test_env_example_values_are_the_code_defaults(self):
        wrong = []
        for name, value in env_example().items():
            defaults = code_variables().get(name, {}).get("defaults", set())
            if len(defaults) > 1:
                wrong.append(f"{name}: the code has two defaults {sorted(defaults)}")
            elif defaults:
                default = next(iter(defaults))
                if name in EMPTY_MEANS_BUNDLED_FIXTURE:
                    if value != "":
                        wrong.append(f"{name}={value!r}: must be empty (the launchers' bundled fixture)")
                elif not same(value, default):
                    wrong.append(f"{name}={value!r}, the code's default is {default!r}")
        self.assertEqual(wrong, [])

    def test_every_variable_the_code_reads_reaches_compose(self):
        passed = set()
        for svc in compose_raw()["services"].values():
            passed |= set(env_of(svc))
        self.assertEqual(sorted(set(code_variables()) - passed - PER_PROCESS_VARIABLES - HOST_PATH_VARIABLES), [],
                         "read by the code but set for no compose service")

    def test_compose_never_passes_a_per_process_variable(self):
        for name, svc in compose_raw()["services"].items():
            self.assertEqual(sorted(set(env_of(svc)) & PER_PROCESS_VARIABLES), [], f"{name}: replicas would share it")

    def test_each_service_gets_exactly_what_its_binary_reads(self):
        problems = []
        for name in STAGE_SERVICES:
            svc = compose_raw()["services"][name]
            exe = command_of(svc)[0]
            needed, possible = variables_read_by(exe)
            given = set(env_of(svc))
            needed -= PER_PROCESS_VARIABLES | RUNTIME_PROVIDED_VARIABLES | HOST_PATH_VARIABLES
            if needed - given:
                problems.append(f"{name} ({exe}) reads {sorted(needed - given)} but compose does not set them")
            if given - possible:
                problems.append(f"{name} ({exe}) is given {sorted(given - possible)}, which nothing it links reads")
        self.assertEqual(problems, [])

    def test_compose_defaults_are_the_code_defaults(self):
        problems = []
        for sname, svc in compose_raw()["services"].items():
            if svc.get("image") != APP_IMAGE:
                continue  # keygen's settings are its own, not the pipeline's
            for key, raw in env_of(svc).items():
                m = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", raw)
                if key in TOPOLOGY:
                    if interpolated_names(raw):
                        problems.append(f"{sname}.{key}: describes the containers; compose sets it, not .env")
                    continue
                if key.startswith("FIXTURE_"):
                    continue
                if key in EMPTY_MEANS_BUNDLED_FIXTURE:
                    continue
                if not m or m.group(1) != key:
                    problems.append(f"{sname}.{key}: {raw!r} should be ${{{key}:-<the code's default>}}")
                    continue
                defaults = code_variables().get(key, {}).get("defaults", set())
                default = m.group(2)
                if defaults and not any(same(default, d) for d in defaults):
                    problems.append(f"{sname}.{key}: compose default {default!r}, the code's {sorted(defaults)}")
                if not defaults and default != env_example().get(key):
                    problems.append(f"{sname}.{key}: compose default {default!r}, .env.example {env_example().get(key)!r}")
        self.assertEqual(problems, [])

    def test_every_variable_compose_interpolates_is_in_env_example(self):
        names = interpolated_names(compose_raw())
        self.assertEqual(sorted(names - set(env_example())), [], "compose reads these from .env, but .env.example does not list them")

    def test_the_same_value_everywhere_in_compose(self):
        seen = {}
        for sname, svc in compose_raw()["services"].items():
            for key, raw in env_of(svc).items():
                seen.setdefault(key, {}).setdefault(raw, []).append(sname)
        differing = {k: v for k, v in seen.items() if len(v) > 1}
        self.assertEqual(differing, {}, "one variable, different values across services")


class Services(unittest.TestCase):
    """Commands, images and the executables built."""

    def test_the_image_ships_exactly_the_executables_the_services_run(self):
        products = set(dockerfile_arg("PRODUCTS").split())
        self.assertEqual(products, service_executables())
        self.assertEqual({compose_raw()["services"][s]["command"][0] for s in STAGE_SERVICES},
                         {"Extractor", "Transformer", "Saver", "API"})

    def test_long_running_services_restart_and_the_keygen_runs_once(self):
        services = compose_raw()["services"]
        for name, svc in services.items():
            expected = "no" if name == "keygen" else "unless-stopped"
            self.assertEqual(str(svc.get("restart")), expected, name)

    def test_dependencies_wait_for_health_or_completion(self):
        services = compose_raw()["services"]
        for name, svc in services.items():
            for dep, spec in (svc.get("depends_on") or {}).items():
                condition = spec.get("condition")
                self.assertIn(dep, services, f"{name} depends on unknown {dep}")
                if dep == "keygen":
                    self.assertEqual(condition, "service_completed_successfully", f"{name} -> keygen")
                else:
                    self.assertEqual(condition, "service_healthy", f"{name} -> {dep}")
                    self.assertIn("healthcheck", services[dep], f"{name} waits for {dep} to be healthy: it needs a healthcheck")
        for stage in ("extractor", "transformer", "saver"):
            self.assertIn("redis", services[stage].get("depends_on", {}), stage)
        for dep in ("sftp", "keygen"):
            self.assertIn(dep, services["saver"]["depends_on"])
        self.assertIn("keygen", services["sftp"]["depends_on"])
        self.assertIn("keygen", services["api"]["depends_on"])

    def test_the_fixture_is_offline_only_and_serves_the_default_upstream(self):
        svc = compose_raw()["services"][FIXTURE_SERVICE]
        self.assertEqual(svc.get("profiles"), ["offline"])
        cmd = command_of(svc)
        self.assertEqual(cmd[0], "DummyJSON")
        self.assertEqual(cmd[cmd.index("--host") + 1], "0.0.0.0")
        url = env_of(compose()["services"]["extractor"])["DUMMYJSON_URL"]
        self.assertEqual(url, f"http://{FIXTURE_SERVICE}:{cmd[cmd.index('--port') + 1]}/users")
        env = env_of(svc)
        self.assertEqual(sorted(set(env) - fixture_variables()), [], "variables the fixture does not read")
        self.assertGreater(float(env_of(compose()["services"][FIXTURE_SERVICE])["FIXTURE_BAD_FRACTION"]), 0,
                           "the offline fixture should serve some bad rows")


class Layout(unittest.TestCase):
    """Ports, paths and mounts agree with the code's defaults and with each other."""

    def setUp(self):
        self.services = compose()["services"]
        m = re.search(r"(?m)^WORKDIR\s+(\S+)\s*$", dockerfile_stage("runtime"))
        self.workdir = m.group(1)

    def default(self, name):
        (d,) = code_variables()[name]["defaults"]
        return d

    def in_image(self, name):
        """The code's default path for name, as seen from the image's working directory."""
        return posixpath.normpath(posixpath.join(self.workdir, self.default(name)))

    def test_paths_are_the_code_defaults_under_the_image_workdir(self):
        for svc_name, svc in self.services.items():
            env = env_of(svc)
            for name in ("DATA_DIR", "DB_PATH", "SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS"):
                if name in env:
                    self.assertEqual(env[name], self.in_image(name), f"{svc_name}.{name}")

    def test_staging_is_one_named_volume_shared_by_the_stages(self):
        sources = set()
        for name in ("extractor", "transformer", "saver"):
            mount = mount_for(self.services[name], env_of(self.services[name])["DATA_DIR"])
            self.assertIsNotNone(mount, f"{name}: DATA_DIR is not on a volume")
            self.assertFalse(mount[2], f"{name}: staging must be writable")
            self.assertEqual(mount[1], env_of(self.services[name])["DATA_DIR"])
            sources.add(mount[0])
        self.assertEqual(len(sources), 1, f"the stages stage to different volumes: {sources}")
        (volume,) = sources
        self.assertIn(volume, compose()["volumes"], "staging must be a named volume")

    def test_database_is_the_bind_mounted_folder_writable_for_the_saver_read_only_for_the_api(self):
        for name, read_only in (("saver", False), ("api", True)):
            db = env_of(self.services[name])["DB_PATH"]
            mount = mount_for(self.services[name], db)
            self.assertIsNotNone(mount, f"{name}: DB_PATH {db} is on no mount")
            self.assertEqual(mount[0], "./" + posixpath.dirname(posixpath.normpath(self.default("DB_PATH"))), name)
            self.assertEqual(mount[2], read_only, f"{name}: ./database read-only should be {read_only}")

    def test_the_saver_reads_its_key_and_known_hosts_from_the_read_only_ssh_keys(self):
        saver = self.services["saver"]
        for name in ("SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS"):
            mount = mount_for(saver, env_of(saver)[name])
            self.assertIsNotNone(mount, name)
            self.assertEqual(mount[0], "./ssh_keys", name)
            self.assertTrue(mount[2], f"{name}: ssh_keys must be mounted read-only")

    def test_redis(self):
        url = env_of(self.services["saver"])["REDIS_URL"]
        m = re.fullmatch(r"redis://([^:/]+):(\d+)/(\d+)", url)
        self.assertIsNotNone(m, url)
        self.assertIn(m.group(1), self.services)
        redis = self.services[m.group(1)]
        self.assertEqual(m.group(2), "6379")
        self.assertTrue(redis["image"].startswith("redis:7"))
        self.assertIn("--appendonly", redis["command"])
        self.assertEqual(redis["command"][redis["command"].index("--appendonly") + 1], "yes")
        self.assertIn("redis-cli", redis["healthcheck"]["test"])
        self.assertTrue(any(t == "/data" for _, t, _ in mounts_of(redis)), "Redis's AOF must be on a volume")

    def sftp_layout(self, env):
        services = compose(env)["services"]
        saver, sftp = env_of(services["saver"]), services[env_of(services["saver"])["SFTP_HOST"]]
        user, remote = saver["SFTP_USER"], saver["SFTP_REMOTE_DIR"]
        self.assertEqual(saver["SFTP_PORT"], "22")
        self.assertTrue(sftp["image"].startswith("atmoz/sftp"))
        (spec,) = sftp["command"]
        fields = spec.split(":")
        self.assertEqual(fields[0], user, "the sftp user is the saver's SFTP_USER")
        self.assertEqual(fields[1], "", "no password: key authentication only")
        self.assertEqual(fields[4], remote, "the sftp user's folder is the saver's SFTP_REMOTE_DIR")
        mounts = {t: (s, ro) for s, t, ro in mounts_of(sftp)}
        self.assertEqual(mounts.get(f"/home/{user}/{remote}"), ("./sftp_data", False))
        self.assertEqual(mounts.get("/etc/ssh/ssh_host_ed25519_key"), ("./ssh_keys/ssh_host_ed25519_key", True))
        client_pub = posixpath.basename(self.default("SFTP_KEY_PATH")) + ".pub"
        self.assertEqual(mounts.get(f"/home/{user}/.ssh/keys/{client_pub}"), (f"./ssh_keys/{client_pub}", True))
        return fields[2]

    def test_sftp_follows_the_saver_settings(self):
        self.assertEqual(self.default("SFTP_REMOTE_DIR"), "upload")
        uid = self.sftp_layout({})
        self.sftp_layout({"SFTP_USER": "alice", "SFTP_REMOTE_DIR": "inbox"})
        keygen = env_of(compose()["services"]["keygen"])
        self.assertEqual(keygen["SFTP_DATA_OWNER"].split(":")[0], uid, "keygen hands sftp_data to the sftp user's uid")
        self.assertEqual(keygen["APP_UID"], dockerfile_arg("APP_UID"), "keygen hands the key and database to the image's user")

    def test_api_port_and_health(self):
        api = self.services["api"]
        env = env_of(api)
        self.assertEqual(env["API_HOST"], "0.0.0.0", "inside a container the API must listen on every interface")
        self.assertEqual(env["API_PORT"], self.default("API_PORT"))
        published = [p for p in api["ports"] if p.split(":")[-1] == env["API_PORT"]]
        self.assertEqual(len(published), 1, api["ports"])
        self.assertEqual(published[0].split(":")[-2], env_example()["API_PORT"], "published on the host's API_PORT")
        address = COMPOSE_ONLY_VARIABLES["API_PUBLISH_ADDRESS"]
        self.assertEqual(published[0].split(":")[0], address, "published on the host's loopback by default")
        self.assertEqual(env_example().get("API_PUBLISH_ADDRESS"), address, ".env.example shows the default")
        widened = compose({"API_PUBLISH_ADDRESS": "0.0.0.0"})["services"]["api"]["ports"]
        self.assertIn(f"0.0.0.0:{env_example()['API_PORT']}:{env['API_PORT']}", widened, "API_PUBLISH_ADDRESS widens it")
        test = " ".join(api["healthcheck"]["test"])
        self.assertIn(f"http://127.0.0.1:{env['API_PORT']}/health", test)
        self.assertIn("curl", apt_packages(dockerfile_stage("runtime")), "the health check runs curl")


class LocalRun(unittest.TestCase):
    """scripts/run.sh and compose describe one system."""

    def setUp(self):
        self.run_sh = read("scripts/run.sh")

    def test_the_same_executables(self):
        started = set(re.findall(r'"\$bin/(\w+)"', self.run_sh))
        self.assertEqual(started, service_executables())

    def test_the_same_relative_layout(self):
        for name in ("DATA_DIR", "DB_PATH"):
            m = re.search(rf'export {name}="\$\{{{name}:-([^}}]*)\}}"', self.run_sh)
            self.assertIsNotNone(m, f"scripts/run.sh does not default {name}")
            (default,) = code_variables()[name]["defaults"]
            self.assertEqual(m.group(1), default, name)

    def test_the_same_fixture(self):
        fixture = env_of(compose_raw()["services"][FIXTURE_SERVICE])
        for name in LAUNCHER_FIXTURE_VARIABLES:
            m = re.search(rf'"\$\{{{name}:-([^}}]*)\}}"', self.run_sh)
            self.assertIsNotNone(m, f"scripts/run.sh does not pass {name}")
            self.assertEqual(m.group(1), env_example()[name], name)
            self.assertEqual(fixture[name], f"${{{name}:-{env_example()[name]}}}", name)
        self.assertRegex(self.run_sh, r'if \[ -z "\$\{DUMMYJSON_URL:-\}" \]', "run.sh starts the fixture when DUMMYJSON_URL is empty")

    def test_the_same_variables(self):
        exported = set(re.findall(r"export ([A-Z][A-Z0-9_]*)=", self.run_sh)) | \
            set(re.findall(r"export [A-Z_]+=\S+ ([A-Z][A-Z0-9_]*)=", self.run_sh))
        own = {"REDIS_PORT", "SFTP_DATA_LINK"}  # for scripts/redis.sh and scripts/sftp.sh
        self.assertEqual(sorted(exported - set(code_variables()) - own), [])


class Image(unittest.TestCase):
    """The Dockerfile: build and runtime packages, user, ignore file."""

    def test_build_stage_installs_the_dev_packages_package_swift_names(self):
        wanted = {pkg for t in targets().values() for p in (t.get("providers") or []) for pkg in p.get("apt", [[]])[0]}
        wanted.add("libsqlite3-dev")  # GRDB's GRDBSQLite links the system SQLite
        self.assertEqual(sorted(wanted - apt_packages(dockerfile_stage("build"))), [])
        self.assertRegex(dockerfile(), r"--static-swift-stdlib")
        self.assertRegex(dockerfile(), r"-c release")
        self.assertRegex(dockerfile_stage("build"), r"\bstrip\b")

    def test_runtime_has_no_dev_packages_and_a_non_root_user(self):
        runtime = dockerfile_stage("runtime")
        self.assertTrue(runtime.startswith("${RUNTIME_IMAGE}") and dockerfile_arg("RUNTIME_IMAGE") == "debian:bookworm-slim")
        self.assertEqual([p for p in apt_packages(runtime) if p.endswith("-dev")], [])
        m = re.search(r"(?m)^USER\s+(\S+)", runtime)
        self.assertIsNotNone(m)
        self.assertNotIn(m.group(1).split(":")[0], ("root", "0"))
        self.assertRegex(runtime, r"COPY --from=build /out/ /usr/local/bin/")
        self.assertRegex(dockerfile_arg("SWIFT_IMAGE"), r"^swift:6\.\d+(\.\d+)?-bookworm$")

    def test_dockerignore_keeps_secrets_and_local_state_out(self):
        ignored = set(read(".dockerignore").split())
        for entry in (".env", "ssh_keys", ".build", "Package.resolved", "database", "sftp_data", "data", ".run"):
            self.assertIn(entry, ignored)

class Docs(unittest.TestCase):
    def test_readme_shows_the_container_path(self):
        readme = read("README.md")
        self.longMessage = False
        for text in ("docker compose --profile offline up --build", "docker compose up --build",
                     "docker compose logs -f extractor", "curl localhost:8000/etl_runs", "ls sftp_data/",
                     "DUMMYJSON_URL=https://dummyjson.com/users"):
            self.assertTrue(text in readme, f"README.md does not show {text!r}")

# --------------------------------------------------------------------------------------------
# Self-test: the contract must reject broken copies of the repository
# --------------------------------------------------------------------------------------------

# (what is broken, file, exact text, replacement): each must make the suite fail.
MUTATIONS = [
    ("compose: the extractor is not given PAGE_SIZE", "docker-compose.yml",
     "      PAGE_SIZE: ${PAGE_SIZE:-100}\n", ""),
    ("compose: a default that is not the code's", "docker-compose.yml",
     "${HTTP_TIMEOUT_SECONDS:-10}", "${HTTP_TIMEOUT_SECONDS:-30}"),
    ("compose: the API published on every interface", "docker-compose.yml",
     '"${API_PUBLISH_ADDRESS:-127.0.0.1}:${API_PORT:-8000}:8000"', '"${API_PORT:-8000}:8000"'),
    ("compose: the API given a default host list other than the code's", "docker-compose.yml",
     "${API_ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],api}", "${API_ALLOWED_HOSTS:-*}"),
    ("compose: the API listens on another port than it publishes", "docker-compose.yml",
     'API_PORT: "8000"', 'API_PORT: "8080"'),
    ("compose: the saver's database is not on the ./database mount", "docker-compose.yml",
     "      DB_PATH: /app/database/data.db\n      DB_FILE_MODE", "      DB_PATH: /app/db/data.db\n      DB_FILE_MODE"),
    ("compose: a command names no built executable", "docker-compose.yml",
     'command: ["Transformer"]', 'command: ["Transfomer"]'),
    ("compose: a variable given to a binary that cannot read it", "docker-compose.yml",
     "      PAGE_SIZE: ${PAGE_SIZE:-100}\n", "      PAGE_SIZE: ${PAGE_SIZE:-100}\n      DB_PATH: /app/database/data.db\n"),
    ("compose: the sftp upload folder is not SFTP_REMOTE_DIR", "docker-compose.yml",
     "./sftp_data:/home/${SFTP_USER:-sftp_user}/${SFTP_REMOTE_DIR:-upload}", "./sftp_data:/home/${SFTP_USER:-sftp_user}/uploads"),
    ("compose: ssh_keys mounted writable into the saver", "docker-compose.yml",
     "./ssh_keys:/app/ssh_keys:ro", "./ssh_keys:/app/ssh_keys"),
    (".env.example: a variable the code reads is missing", ".env.example", "AGE_MAX=65\n", ""),
    (".env.example: a default that is not the code's", ".env.example", "PAGE_SIZE=100", "PAGE_SIZE=50"),
    ("Dockerfile: a service's executable is not built", "Dockerfile",
     'ARG PRODUCTS="Extractor Transformer Saver API DummyJSON"', 'ARG PRODUCTS="Extractor Transformer Saver API"'),
    ("scripts/run.sh: another staging folder than the code's default", "scripts/run.sh",
     'export DATA_DIR="${DATA_DIR:-./data}"', 'export DATA_DIR="${DATA_DIR:-./staging}"'),
]


def self_test():
    """Runs the suite on a broken copy per MUTATIONS; every one must fail it."""
    dump = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(package(), dump)
    dump.close()
    missed = 0
    ignore = shutil.ignore_patterns(".build", ".build-*", ".build_*", ".run", ".git", "ssh_keys", "data",
                                    "database", "sftp_data", "logs", ".swiftpm")
    try:
        for label, name, old, new in MUTATIONS:
            with tempfile.TemporaryDirectory() as copy:
                shutil.copytree(ROOT, copy, ignore=ignore, dirs_exist_ok=True)
                path = os.path.join(copy, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if old not in text:
                    print(f"  STALE   {label}: {old!r} is not in {name} any more")
                    missed += 1
                    continue
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace(old, new, 1))
                env = dict(os.environ, CONTRACT_PACKAGE_JSON=dump.name)
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", copy],
                                     capture_output=True, text=True, timeout=300, env=env)
                failing = re.findall(r"^(?:FAIL|ERROR): (\w+)", out.stderr, re.M)
                if out.returncode == 0 or not failing:
                    print(f"  MISSED  {label}")
                    missed += 1
                else:
                    print(f"  caught  {label}: {', '.join(sorted(set(failing)))}")
    finally:
        os.unlink(dump.name)
    return missed



def main():
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=ROOT, help="the repository (default: this script's)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--self-test", action="store_true",
                        help="after the suite, check that it rejects each broken copy in MUTATIONS")
    args, rest = parser.parse_known_args()
    ROOT = os.path.abspath(args.root)
    if test_hooks():
        print(f"container-contract: test hooks read by the code, not settings: {', '.join(test_hooks())}", file=sys.stderr)
    program = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2 if args.verbose else 1, exit=False)
    result = program.result
    skipped = len(result.skipped)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - skipped
    for test, reason in result.skipped:
        print(f"container-contract: skipped {test.id().split('.')[-1]}: {reason}")
    ok = result.wasSuccessful() and result.testsRun > 0
    if args.self_test and ok:
        print("container-contract: self-test, broken copies:", flush=True)
        missed = self_test()
        if missed:
            print(f"container-contract: self-test FAILED: {missed} broken copies passed")
            ok = False
        else:
            print(f"container-contract: self-test ok: each of the {len(MUTATIONS)} broken copies fails the suite")
    print(f"container-contract: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
