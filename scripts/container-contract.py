#!/usr/bin/env python3
"""The container contract test: docker-compose.yml, the Dockerfile and scripts/run.sh against
the settings' declarations.

The declarations are Swift (`Setting`, beside each stage's settings type); the Swift test
Tests/SettingsTests makes .env.example from them and fails when the file differs, each of its
sections headed by the stages that read its settings (`# --- extractor, saver ---`) or by the
launchers that do (`# --- docker compose ---`). This test reads that file, which the Swift side
keeps honest, and checks what Swift cannot see:

- each stage service is given exactly the settings its binary reads, with .env.example's value
  as compose's default, except what describes the containers (service names, in-network ports,
  mount paths), which compose sets itself and which must match its services, ports and mounts;
- every service's command names an executable that Package.swift builds and the Dockerfile puts
  into the image, and scripts/run.sh starts the same executables with the same defaults.

What a real run shows is checked by scripts/compose-check.sh instead, on a Docker engine.

Run: python3 scripts/container-contract.py [-v] [--root DIR] [--self-test]   (scripts/test.sh runs it)
Needs PyYAML.
"""

import argparse
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

# The stage services; their names are the stage names of .env.example's section headers.
STAGE_SERVICES = {"extractor": "Extractor", "transformer": "Transformer", "saver": "Saver", "api": "API"}
FIXTURE_SERVICE = "dummyjson"
APP_IMAGE = "etl-pipeline:latest"
# What compose sets itself rather than reading from .env: where things are inside the container
# network and the image (each checked against the services and mounts below).
TOPOLOGY = {"REDIS_URL", "SFTP_HOST", "SFTP_PORT", "API_HOST", "API_PORT", "DATA_DIR", "DB_PATH", "SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS"}
# Empty in .env.example on purpose: the launchers then use the bundled fixture.
EMPTY_MEANS_BUNDLED_FIXTURE = "DUMMYJSON_URL"
# Never passed by compose: replicas of one service would share it (each container's HOSTNAME is
# its identity there).
PER_PROCESS_VARIABLES = {"INSTANCE_ID"}
# Never passed by compose: a path on the host (compose passes SFTP_ENCRYPT_RECIPIENTS, the keys
# themselves, rather than mounting a file).
HOST_PATH_VARIABLES = {"SFTP_ENCRYPT_RECIPIENTS_FILE"}
# Runtime packages that are tools, not libraries the binaries link (scripts/compose-check.py
# checks that every other package the runtime stage installs is linked by a binary in the image).
RUNTIME_TOOLS = {"ca-certificates": "CA roots for https upstreams", "curl": "the API's health check",
                 "age": "the saver's encrypted uploads (SFTP_ENCRYPT_RECIPIENTS)"}


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def settings():
    """.env.example: name -> (value, set of the stages or launchers that read it)."""
    result, readers = {}, set()
    for line in read(".env.example").splitlines():
        header = re.match(r"^# --- (.*) ---$", line)
        if header:
            readers = {r.strip() for r in header.group(1).split(":")[0].split(",")}
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            result[m.group(1)] = (m.group(2), readers)
    return result


def example(name):
    return settings()[name][0]


def executables():
    """The executable products Package.swift declares."""
    return set(re.findall(r'\.executable\(name: "(\w+)"', read("Package.swift")))


def compose(env=None):
    """docker-compose.yml, its ${VAR:-default}s filled from env (None: left as written)."""
    data = yaml.safe_load(read("docker-compose.yml"))
    return data if env is None else interpolate(data, env)


INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env):
    def one(m):
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("braced") or m.group("plain"), m.group("op"), m.group("arg")
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?") and not current:
            raise ValueError(f"{name} is required: {arg}")
        return current or ""
    if isinstance(value, str):
        return INTERPOLATION.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def interpolated_names(node):
    if isinstance(node, str):
        return {m.group("braced") or m.group("plain") for m in INTERPOLATION.finditer(node) if m.group(0) != "$$"}
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return set().union(*[interpolated_names(v) for v in values]) if values else set()


def command_of(svc):
    cmd = svc.get("command")
    return cmd if isinstance(cmd, list) else (cmd or "").split()


def env_of(svc):
    return {k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()}


def mounts_of(svc):
    """[(source, target, read_only)] for short-syntax volumes."""
    return [(p[0], p[1], len(p) > 2 and "ro" in p[2].split(",")) for p in (v.split(":") for v in svc.get("volumes") or [])]


def mount_for(svc, path):
    """The mount that holds path (the longest target that is a prefix of it)."""
    found = [m for m in mounts_of(svc) if path == m[1] or path.startswith(m[1].rstrip("/") + "/")]
    return max(found, key=lambda m: len(m[1]), default=None)


def service_executables():
    return {command_of(s)[0] for s in compose()["services"].values() if s.get("image") == APP_IMAGE}


def dockerfile():
    return read("Dockerfile")


def dockerfile_stage(name):
    for s in re.split(r"(?m)^FROM\s+", dockerfile())[1:]:
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
    words = m.group(1).replace("\\\n", " ").split("&&")[0].split() if m else []
    return {w for w in words if not w.startswith("-")}


class Settings(unittest.TestCase):
    """Each stage service gets exactly the settings its binary reads, with .env.example's defaults."""

    def test_each_service_gets_exactly_what_its_binary_reads(self):
        self.assertGreater(len(settings()), 30, ".env.example lists almost no settings: are its section headers stale?")
        for name in STAGE_SERVICES:
            reads = {n for n, (_, readers) in settings().items() if name in readers} - PER_PROCESS_VARIABLES - HOST_PATH_VARIABLES
            given = set(env_of(compose()["services"][name]))
            self.assertEqual(sorted(reads - given), [], f"{name} reads these, compose does not set them")
            self.assertEqual(sorted(given - reads), [], f"{name} is given these, its binary does not read them")

    def test_compose_defaults_are_env_example_values(self):
        problems = []
        for sname, svc in compose()["services"].items():
            for key, raw in env_of(svc).items() if sname in STAGE_SERVICES or sname == FIXTURE_SERVICE else []:
                if key in TOPOLOGY:
                    if interpolated_names(raw):
                        problems.append(f"{sname}.{key}: describes the containers; compose sets it, not .env")
                elif key != EMPTY_MEANS_BUNDLED_FIXTURE and key in settings() and raw != f"${{{key}:-{example(key)}}}":
                    problems.append(f"{sname}.{key}: {raw!r}, expected ${{{key}:-{example(key)}}} as in .env.example")
        self.assertEqual(problems, [])

    def test_every_variable_compose_interpolates_is_in_env_example(self):
        self.assertEqual(sorted(interpolated_names(compose()) - set(settings())), [], "compose reads these from .env; .env.example lacks them")

    def test_one_variable_one_value_across_services(self):
        seen = {}
        for sname, svc in compose()["services"].items():
            for key, raw in env_of(svc).items():
                seen.setdefault(key, {}).setdefault(raw, []).append(sname)
        self.assertEqual({k: v for k, v in seen.items() if len(v) > 1}, {})


class Services(unittest.TestCase):
    """Commands, images, dependencies and the executables built."""

    def test_the_image_ships_exactly_the_executables_the_services_run(self):
        self.assertEqual(set(dockerfile_arg("PRODUCTS").split()), service_executables())
        self.assertLessEqual(service_executables(), executables(), "a service runs an executable Package.swift does not build")
        self.assertEqual({n: command_of(compose()["services"][n])[0] for n in STAGE_SERVICES}, STAGE_SERVICES)

    def test_restarts_and_dependencies(self):
        services = compose()["services"]
        for name, svc in services.items():
            self.assertEqual(str(svc.get("restart")), "no" if name == "keygen" else "unless-stopped", name)
            for dep, spec in (svc.get("depends_on") or {}).items():
                wanted = "service_completed_successfully" if dep == "keygen" else "service_healthy"
                self.assertEqual(spec.get("condition"), wanted, f"{name} -> {dep}")
                if dep != "keygen":
                    self.assertIn("healthcheck", services[dep], f"{name} waits for {dep} to be healthy")
        for stage, deps in (("extractor", {"redis"}), ("transformer", {"redis"}), ("saver", {"redis", "sftp", "keygen"}),
                            ("sftp", {"keygen"}), ("api", {"keygen"})):
            self.assertLessEqual(deps, set(services[stage]["depends_on"]), stage)

    def test_the_fixture_is_offline_only_and_serves_the_default_upstream(self):
        svc = compose()["services"][FIXTURE_SERVICE]
        cmd = command_of(svc)
        self.assertEqual((svc.get("profiles"), cmd[0], cmd[cmd.index("--host") + 1]), (["offline"], "DummyJSON", "0.0.0.0"))
        url = env_of(compose({})["services"]["extractor"])[EMPTY_MEANS_BUNDLED_FIXTURE]
        self.assertEqual(url, f"http://{FIXTURE_SERVICE}:{cmd[cmd.index('--port') + 1]}/users")
        self.assertEqual(example(EMPTY_MEANS_BUNDLED_FIXTURE), "", "empty in .env.example: the launchers' fixture")
        fixture = {n for n, (_, readers) in settings().items() if any("fixture" in r for r in readers)}
        self.assertEqual(set(env_of(svc)) - {"FIXTURE_LOG_LEVEL"}, fixture)


class Layout(unittest.TestCase):
    """Ports, paths and mounts agree with the declared defaults and with each other."""

    def setUp(self):
        self.services = compose({})["services"]
        self.workdir = re.search(r"(?m)^WORKDIR\s+(\S+)\s*$", dockerfile_stage("runtime")).group(1)

    def in_image(self, name):
        return posixpath.normpath(posixpath.join(self.workdir, example(name)))

    def test_paths_are_the_defaults_under_the_image_workdir(self):
        for svc_name, svc in self.services.items():
            for name in ("DATA_DIR", "DB_PATH", "SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS"):
                if name in env_of(svc):
                    self.assertEqual(env_of(svc)[name], self.in_image(name), f"{svc_name}.{name}")

    def test_staging_is_one_named_volume_shared_by_the_stages(self):
        mounts = {mount_for(self.services[n], self.in_image("DATA_DIR")) for n in ("extractor", "transformer", "saver")}
        self.assertEqual(len(mounts), 1, f"the stages stage to different volumes: {mounts}")
        (source, target, read_only), = mounts
        self.assertEqual((target, read_only), (self.in_image("DATA_DIR"), False))
        self.assertIn(source, compose({})["volumes"], "staging must be a named volume")

    def test_the_database_folder_is_writable_for_the_saver_read_only_for_the_api(self):
        for name, read_only in (("saver", False), ("api", True)):
            mount = mount_for(self.services[name], self.in_image("DB_PATH"))
            self.assertEqual(mount and (mount[0], mount[2]), ("./" + posixpath.dirname(posixpath.normpath(example("DB_PATH"))), read_only), name)

    def test_the_saver_reads_its_key_and_known_hosts_from_the_read_only_ssh_keys(self):
        for name in ("SFTP_KEY_PATH", "SFTP_KNOWN_HOSTS"):
            mount = mount_for(self.services["saver"], self.in_image(name))
            self.assertEqual(mount and (mount[0], mount[2]), ("./ssh_keys", True), name)

    def test_redis(self):
        m = re.fullmatch(r"redis://([^:/]+):(\d+)/(\d+)", env_of(self.services["saver"])["REDIS_URL"])
        redis = self.services[m.group(1)]
        self.assertEqual(m.group(2), "6379")
        self.assertEqual(redis["command"][redis["command"].index("--appendonly") + 1], "yes")
        self.assertIn("redis-cli", redis["healthcheck"]["test"])
        self.assertIn("/data", [t for _, t, _ in mounts_of(redis)], "Redis's AOF must be on a volume")

    def sftp_uid(self, env):
        services = compose(env)["services"]
        saver = env_of(services["saver"])
        sftp, user, remote = services[saver["SFTP_HOST"]], saver["SFTP_USER"], saver["SFTP_REMOTE_DIR"]
        self.assertEqual(saver["SFTP_PORT"], "22")
        fields = sftp["command"][0].split(":")
        self.assertEqual((fields[0], fields[1], fields[4]), (user, "", remote), "user SFTP_USER, no password, folder SFTP_REMOTE_DIR")
        mounts = {t: (s, ro) for s, t, ro in mounts_of(sftp)}
        self.assertEqual(mounts.get(f"/home/{user}/{remote}"), ("./sftp_data", False))
        self.assertEqual(mounts.get("/etc/ssh/ssh_host_ed25519_key"), ("./ssh_keys/ssh_host_ed25519_key", True))
        client_pub = posixpath.basename(example("SFTP_KEY_PATH")) + ".pub"
        self.assertEqual(mounts.get(f"/home/{user}/.ssh/keys/{client_pub}"), (f"./ssh_keys/{client_pub}", True))
        return fields[2]

    def test_sftp_follows_the_saver_settings(self):
        uid = self.sftp_uid({})
        self.sftp_uid({"SFTP_USER": "alice", "SFTP_REMOTE_DIR": "inbox"})
        keygen = env_of(compose({})["services"]["keygen"])
        self.assertEqual(keygen["SFTP_DATA_OWNER"].split(":")[0], uid, "keygen hands sftp_data to the sftp user's uid")
        self.assertEqual(keygen["APP_UID"], dockerfile_arg("APP_UID"), "keygen hands the key and database to the image's user")

    def test_api_port_and_health(self):
        api = self.services["api"]
        port = env_of(api)["API_PORT"]
        self.assertEqual((env_of(api)["API_HOST"], port), ("0.0.0.0", example("API_PORT")))
        self.assertEqual(api["ports"], [f"{example('API_PUBLISH_ADDRESS')}:{example('API_PORT')}:{port}"])
        widened = compose({"API_PUBLISH_ADDRESS": "0.0.0.0"})["services"]["api"]["ports"]
        self.assertEqual(widened, [f"0.0.0.0:{example('API_PORT')}:{port}"], "API_PUBLISH_ADDRESS widens it")
        self.assertIn(f"http://127.0.0.1:{port}/health", " ".join(api["healthcheck"]["test"]))
        self.assertIn("curl", apt_packages(dockerfile_stage("runtime")), "the health check runs curl")


class LocalRun(unittest.TestCase):
    """scripts/run.sh and compose describe one system."""

    def test_the_same_executables_defaults_and_fixture(self):
        run_sh = read("scripts/run.sh")
        self.assertEqual(set(re.findall(r'"\$bin/(\w+)"', run_sh)), service_executables())
        for name in ("DATA_DIR", "DB_PATH"):
            self.assertIn(f'export {name}="${{{name}:-{example(name)}}}"', run_sh)
        for name in ("FIXTURE_USERS", "FIXTURE_BAD_FRACTION"):
            self.assertIn(f'"${{{name}:-{example(name)}}}"', run_sh)
        self.assertRegex(run_sh, r'if \[ -z "\$\{DUMMYJSON_URL:-\}" \]', "run.sh starts the fixture when DUMMYJSON_URL is empty")
        exported = set(re.findall(r"export ([A-Z][A-Z0-9_]*)=", run_sh)) | set(re.findall(r"export [A-Z_]+=\S+ ([A-Z][A-Z0-9_]*)=", run_sh))
        self.assertEqual(sorted(exported - set(settings()) - {"REDIS_PORT", "SFTP_DATA_LINK"}), [])


class Image(unittest.TestCase):
    """The Dockerfile: build and runtime packages, user, ignore file."""

    def test_build_stage_installs_the_dev_packages_package_swift_names(self):
        wanted = {p for group in re.findall(r"\.apt\(\[([^\]]*)\]\)", read("Package.swift")) for p in re.findall(r'"([^"]+)"', group)}
        self.assertEqual(sorted((wanted | {"libsqlite3-dev"}) - apt_packages(dockerfile_stage("build"))), [])
        for pattern in (r"--static-swift-stdlib", r"-c release", r"\bstrip\b"):
            self.assertRegex(dockerfile_stage("build"), pattern)

    def test_runtime_has_no_dev_packages_and_a_non_root_user(self):
        runtime = dockerfile_stage("runtime")
        self.assertEqual(dockerfile_arg("RUNTIME_IMAGE"), "debian:bookworm-slim")
        self.assertEqual([p for p in apt_packages(runtime) if p.endswith("-dev")], [])
        self.assertNotIn(re.search(r"(?m)^USER\s+(\S+)", runtime).group(1).split(":")[0], ("root", "0"))
        self.assertRegex(runtime, r"COPY --from=build /out/ /usr/local/bin/")
        self.assertRegex(dockerfile_arg("SWIFT_IMAGE"), r"^swift:6\.\d+(\.\d+)?-bookworm$")

    def test_dockerignore_keeps_secrets_and_local_state_out(self):
        ignored = set(read(".dockerignore").split())
        self.assertEqual(sorted({".env", "ssh_keys", ".build", "Package.resolved", "database", "sftp_data", "data", ".run"} - ignored), [])


class Docs(unittest.TestCase):
    def test_readme_shows_the_container_path(self):
        readme = read("README.md")
        for text in ("docker compose --profile offline up --build", "docker compose up --build", "docker compose logs -f extractor",
                     "curl localhost:8000/etl_runs", "ls sftp_data/", "DUMMYJSON_URL=https://dummyjson.com/users"):
            self.assertIn(text, readme, f"README.md does not show {text!r}")


# (what is broken, file, exact text, replacement): each must make the suite fail (--self-test).
MUTATIONS = [
    ("compose: the extractor is not given PAGE_SIZE", "docker-compose.yml", "      PAGE_SIZE: ${PAGE_SIZE:-100}\n", ""),
    ("compose: a default that is not the declared one", "docker-compose.yml", "${HTTP_TIMEOUT_SECONDS:-10}", "${HTTP_TIMEOUT_SECONDS:-30}"),
    ("compose: the API published on every interface", "docker-compose.yml",
     '"${API_PUBLISH_ADDRESS:-127.0.0.1}:${API_PORT:-8000}:8000"', '"${API_PORT:-8000}:8000"'),
    ("compose: the API given a default host list other than the declared one", "docker-compose.yml",
     "${API_ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],api}", "${API_ALLOWED_HOSTS:-*}"),
    ("compose: the API listens on another port than it publishes", "docker-compose.yml", 'API_PORT: "8000"', 'API_PORT: "8080"'),
    ("compose: the saver's database is not on the ./database mount", "docker-compose.yml",
     "      DB_PATH: /app/database/data.db\n      DB_FILE_MODE", "      DB_PATH: /app/db/data.db\n      DB_FILE_MODE"),
    ("compose: a command names no built executable", "docker-compose.yml", 'command: ["Transformer"]', 'command: ["Transfomer"]'),
    ("compose: a variable given to a binary that cannot read it", "docker-compose.yml",
     "      PAGE_SIZE: ${PAGE_SIZE:-100}\n", "      PAGE_SIZE: ${PAGE_SIZE:-100}\n      DB_FILE_MODE: ${DB_FILE_MODE:-0600}\n"),
    ("compose: the sftp upload folder is not SFTP_REMOTE_DIR", "docker-compose.yml",
     "./sftp_data:/home/${SFTP_USER:-sftp_user}/${SFTP_REMOTE_DIR:-upload}", "./sftp_data:/home/${SFTP_USER:-sftp_user}/uploads"),
    ("compose: ssh_keys mounted writable into the saver", "docker-compose.yml", "./ssh_keys:/app/ssh_keys:ro", "./ssh_keys:/app/ssh_keys"),
    (".env.example: a setting moved to a section of other stages", ".env.example", "# --- transformer ---", "# --- extractor ---"),
    (".env.example: a setting the transformer reads is missing", ".env.example", "AGE_MAX=65\n", ""),
    (".env.example: another default than compose's", ".env.example", "PAGE_SIZE=100", "PAGE_SIZE=50"),
    ("Dockerfile: a service's executable is not built", "Dockerfile",
     'ARG PRODUCTS="Extractor Transformer Saver API DummyJSON"', 'ARG PRODUCTS="Extractor Transformer Saver API"'),
    ("scripts/run.sh: another staging folder than the default", "scripts/run.sh",
     'export DATA_DIR="${DATA_DIR:-./data}"', 'export DATA_DIR="${DATA_DIR:-./staging}"'),
]


def self_test():
    """Runs the suite on a copy of the files it reads, broken per MUTATIONS; each must fail it."""
    missed = 0
    for label, name, old, new in MUTATIONS:
        with tempfile.TemporaryDirectory() as copy:
            for path in (".env.example", ".dockerignore", "Dockerfile", "Package.swift", "README.md", "docker-compose.yml", "scripts/run.sh"):
                os.makedirs(os.path.dirname(os.path.join(copy, path)), exist_ok=True)
                shutil.copy(os.path.join(ROOT, path), os.path.join(copy, path))
            text = read(name)
            if old not in text:
                print(f"  STALE   {label}: {old!r} is not in {name} any more")
                missed += 1
                continue
            with open(os.path.join(copy, name), "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", copy], capture_output=True, text=True, timeout=120)
            failing = sorted(set(re.findall(r"^(?:FAIL|ERROR): (\w+)", out.stderr, re.M)))
            print(f"  caught  {label}: {', '.join(failing)}" if out.returncode and failing else f"  MISSED  {label}")
            missed += 0 if out.returncode and failing else 1
    return missed


def main():
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=ROOT, help="the repository (default: this script's)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--self-test", action="store_true", help="after the suite, check that it rejects each broken copy in MUTATIONS")
    args, rest = parser.parse_known_args()
    ROOT = os.path.abspath(args.root)
    result = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2 if args.verbose else 1, exit=False).result
    failed = len(result.failures) + len(result.errors)
    ok = result.wasSuccessful() and result.testsRun > 0
    if args.self_test and ok:
        print("container-contract: self-test, broken copies:", flush=True)
        missed = self_test()
        ok = missed == 0
        print(f"container-contract: self-test {'ok' if ok else 'FAILED'}: {len(MUTATIONS) - missed} of {len(MUTATIONS)} broken copies fail the suite")
    print(f"container-contract: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
