#!/usr/bin/env python3
"""Whole-pipeline benchmark driver; run it through scripts/bench-pipeline.sh (usage there).

One run: a fresh work directory (staging, database, logs), a fresh redis-server, the SFTP
server's upload folder emptied, the DummyJSON fixture for N users (5% bad), then API, Saver and
the Transformer(s), and — once the downstream stages are subscribed to their channels — the Extractor
with --once. The run ends when `<run>_manifest.json` appears in the SFTP server's upload folder
and the ledger says `completed`; then every process is stopped (SIGTERM) and reaped.

Figures:
- end to end: from just before the Extractor is spawned to the first poll (every 5 ms) that sees
  the manifest under its final name (the saver uploads `.part` and renames, so the name means
  complete);
- per stage: the ledger's `<phase>_started_at` → `<phase>_finished_at` (ms precision), and the
  hand-off gaps between one phase's finish and the next one's start;
- peak RSS: `ru_maxrss` from wait4() for each process this driver started (the kernel's
  high-water mark over the whole process life, exact, including a process that exits itself);
- bytes: staged files (ledger `extract_files`, `transform_files`), uploaded files (ledger
  `save_files`), and the database (`data.db` + `-wal` after the saver stopped).
- the floor (unless --no-floor): after the stages stop, the same bytes moved by standard tools
  started together against the same servers — curl fetching every page (8 in parallel), the
  sqlite3 CLI loading the run's three files (the uploaded copies: the same bytes as the staged
  ones) into a fresh database with the pipeline's schema and page size, and OpenSSH's sftp
  uploading them; its wall time is when the last one exits, and the pipeline's end to end is
  printed as a multiple of it;
- the chunk timeline: per chunk, when each stage finished it (ms from the extractor's spawn), from
  the stages' log lines (`chunk_timeline`), with a text chart of the stages' overlap.

Recovery (`--kill STAGE[@N[+MS]]`, `Killer`): an undisturbed run first, then runs in which one
stage's process is SIGKILLed mid-run (a point read from the ledger) and restarted at once with the
same INSTANCE_ID and environment; reported: restart → `completed`, whether the restarted process
took the dead one's claims over before they expired, the chunks redone, and whether the outputs
equal the undisturbed run's (compare_outputs.Outcomes).

`--transformers N` starts N Transformer replicas (INSTANCE_ID transformer-1 … transformer-N);
`--chunk-users K` sets CHUNK_USERS. The run's machinery (`Pipeline`) is shared with
scripts/compare_outputs.py.

Standard library only. Everything binds 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

STAGES = ["Extractor", "Transformer", "Saver", "API"]
PHASES = ["extract", "transform", "save"]


def log(msg: str) -> None:
    print(f"== {msg}", file=sys.stderr, flush=True)


class Child:
    """A process we started, reaped with wait4 so its peak RSS is known."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logfile: str):
        self.name = name
        self.out = open(logfile, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        self.status: int | None = None
        self.maxrss_kib: int | None = None
        self.cpu_s: float | None = None

    def poll(self) -> bool:
        """True when the process has exited (and reaps it)."""
        if self.status is not None:
            return True
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self._reaped(status, usage)
        return True

    def _reaped(self, status: int, usage) -> None:
        self.status = os.waitstatus_to_exitcode(status)
        self.maxrss_kib = usage.ru_maxrss
        self.cpu_s = usage.ru_utime + usage.ru_stime
        self.proc.returncode = self.status  # so Popen does not try to reap it again
        self.out.close()

    def stop(self, timeout: float = 15.0) -> None:
        if self.poll():
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll():
                return
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        _, status, usage = os.wait4(self.pid, 0)
        self._reaped(status, usage)


class Redis:
    def __init__(self, repo: str, port: int, directory: str):
        self.repo, self.port, self.dir = repo, port, directory
        self.url = f"redis://127.0.0.1:{port}/0"

    def _env(self) -> dict[str, str]:
        return dict(os.environ, REDIS_PORT=str(self.port), REDIS_DIR=self.dir)

    def start(self) -> None:
        subprocess.run([f"{self.repo}/scripts/redis.sh", "start"], env=self._env(), check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        self.cli("FLUSHALL")

    def stop(self) -> None:
        subprocess.run([f"{self.repo}/scripts/redis.sh", "stop"], env=self._env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        # A server that cannot write its AOF (a full disk) refuses a plain SHUTDOWN: this
        # throw-away ledger need not be saved.
        try:
            resp_command(self.port, ["SHUTDOWN", "NOSAVE"])
        except (OSError, RuntimeError):
            pass  # already gone (the connection closes as it exits)

    def cli(self, *args: str) -> str:
        """One command over RESP2 on a fresh connection; bulk strings joined by newlines."""
        reply = resp_command(self.port, args)
        if isinstance(reply, list):
            return "\n".join("" if v is None else str(v) for v in reply)
        return "" if reply is None else str(reply)

    def hash(self, key: str) -> dict[str, str]:
        values = resp_command(self.port, ["HGETALL", key])
        return dict(zip(values[0::2], values[1::2]))

    def numsub(self, channel: str) -> int:
        reply = resp_command(self.port, ["PUBSUB", "NUMSUB", channel])
        return int(reply[1]) if len(reply) > 1 else 0


def resp_command(port: int, args) -> object:
    """A minimal RESP2 client (the standard library has none): arrays, bulk and simple strings,
    integers; an error reply raises."""
    payload = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in map(str, args))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        f = s.makefile("rb")

        def read():
            line = f.readline()
            if not line.endswith(b"\r\n"):
                raise RuntimeError("redis closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RuntimeError(f"redis: {rest.decode()}")
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)
                return data[:-2].decode()
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise RuntimeError(f"unexpected redis reply {line!r}")
        return read()


class SFTPServer:
    def __init__(self, repo: str, port: int):
        self.repo, self.port = repo, port
        self.env = dict(os.environ, SFTP_PORT=str(port))
        self.upload = f"/var/lib/etl-sftp/{port}/sftp_user/upload"

    def start(self, known_hosts: str) -> None:
        subprocess.run([f"{self.repo}/scripts/sftp.sh", "start"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        # The server's host key for exactly this port (the saver refuses unknown hosts).
        key_type, blob = open(f"{self.repo}/ssh_keys/ssh_host_ed25519_key.pub").read().split()[:2]
        with open(known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {key_type} {blob}\n")

    def clear(self) -> None:
        for name in os.listdir(self.upload):
            os.unlink(os.path.join(self.upload, name))

    def stop(self) -> None:
        subprocess.run([f"{self.repo}/scripts/sftp.sh", "stop"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def wait_until(what: str, predicate, timeout: float, interval: float = 0.01, children: list[Child] = ()):
    """Polls `predicate` until truthy; fails after `timeout` or when a child died early."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for child in children:
            if child.poll():
                raise RuntimeError(f"{child.name} exited with {child.status} while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def parse_ts(text: str) -> float:
    """Ledger timestamps: ISO 8601 UTC with milliseconds (`2026-11-22T10:15:00.123Z`)."""
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def file_bytes(ledger_value: str | None) -> dict[str, int]:
    """Bytes per file name; a chunked run's files of one name (`chunks/<n>/raw.jsonl`) summed."""
    out: dict[str, int] = {}
    for f in json.loads(ledger_value) if ledger_value else []:
        name = os.path.basename(f["path"])
        out[name] = out.get(name, 0) + int(f["bytes"])
    return out


# The floor: the same bytes moved by standard tools, in parallel, in the same invocation — curl
# fetching the run's pages from the same fixture, the sqlite3 CLI loading the run's staged lines
# into a fresh database with the pipeline's own schema (one INSERT … SELECT per table, the same
# JSON extraction as the saver), and OpenSSH's sftp uploading the three files to the same
# server. The pipeline's end to end is then printed as a multiple of it.
FLOOR_SQL = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TEMP TABLE raw_lines (line TEXT);
CREATE TEMP TABLE user_lines (line TEXT);
CREATE TEMP TABLE dlq_lines (line TEXT);
.mode ascii
.separator "\\037" "\\n"
.import {raw} raw_lines
.import {users} user_lines
.import {dlq} dlq_lines
INSERT INTO raw_users (run_id, line, user_id, payload, inserted_at)
  SELECT '{run}', rowid, CASE WHEN json_type(line, '$.id') = 'integer' AND json_extract(line, '$.id') > 0
                          THEN json_extract(line, '$.id') END, line, '{at}' FROM raw_lines;
INSERT INTO users (id, run_id, full_name, email, email_domain, age, age_group, department, department_code,
                   bmi, bmi_category, birth_date, record_hash, payload, inserted_at, updated_at, last_seen_run_id)
  SELECT line ->> '$.id', '{run}', line ->> '$.full_name', line ->> '$.email', line ->> '$.email_domain',
         line ->> '$.age', line ->> '$.age_group', line ->> '$.company.department', line ->> '$.department_code',
         line ->> '$.bmi', line ->> '$.bmi_category', line ->> '$.birth_date', line ->> '$.record_hash', line,
         '{at}', '{at}', '{run}' FROM user_lines WHERE true
  ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at;
INSERT INTO dlq_records (run_id, line, reasons, payload, inserted_at)
  SELECT '{run}', line ->> '$.line', line -> '$.reasons', line -> '$.payload', '{at}' FROM dlq_lines;
"""


def floor(opts, work: str, upload: str, run_id: str, users: int, pipeline_db: str, known_hosts: str) -> dict:
    """Runs the three standard tools side by side; returns each one's seconds and the wall time.
    The files are the run's uploaded ones (`<run>_raw.jsonl` is the staged `raw.masked.jsonl`),
    read from the SFTP server's folder: the same bytes however a build lays out its staging."""
    files = {name: f"{upload}/{run_id}_{remote}" for name, remote in
             (("raw.masked.jsonl", "raw.jsonl"), ("users.jsonl", "users.jsonl"), ("dlq.jsonl", "dlq.jsonl"))}
    fdir = f"{work}/floor"
    os.makedirs(f"{fdir}/pages")
    # curl: every page the extractor fetched, 8 transfers at a time on reused connections.
    with open(f"{fdir}/curl.cfg", "w") as f:
        for n, skip in enumerate(range(0, users, 100)):
            f.write(f'url = "http://127.0.0.1:{opts.fixture_port}/users?limit=100&skip={skip}"\n'
                    f'output = "{fdir}/pages/{n}.json"\n')
    # sqlite3: the pipeline's schema, then the load.
    schema = subprocess.run(["sqlite3", pipeline_db, ".schema"], check=True, capture_output=True, text=True,
                            timeout=60).stdout
    schema = "\n".join(l for l in schema.splitlines() if "grdb_migrations" not in l and "sqlite_sequence" not in l)
    page_size = subprocess.run(["sqlite3", pipeline_db, "PRAGMA page_size"], check=True, capture_output=True,
                               text=True, timeout=60).stdout.strip()
    with open(f"{fdir}/load.sql", "w") as f:
        f.write(f"PRAGMA page_size = {page_size};\n{schema}\n")
        f.write(FLOOR_SQL.format(raw=files["raw.masked.jsonl"], users=files["users.jsonl"], dlq=files["dlq.jsonl"],
                                 run="floor", at=time.strftime("%Y-%m-%dT%H:%M:%SZ")))
    # sftp: the three files, to names of their own on the same server.
    with open(f"{fdir}/sftp.batch", "w") as f:
        for name, path in files.items():
            f.write(f"put {path} upload/floor_{name}\n")
    commands = {
        "curl": ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "8", "-K", f"{fdir}/curl.cfg"],
        "sqlite3": ["sqlite3", "-bail", f"{fdir}/floor.db", f".read {fdir}/load.sql"],
        "sftp": ["sftp", "-q", "-b", f"{fdir}/sftp.batch", "-i", f"{opts.repo}/ssh_keys/id_ed25519",
                 "-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes", "-P", str(opts.sftp_port),
                 "sftp_user@127.0.0.1"],
    }
    os.sync()  # as before the pipeline's run: no writeback of its files inside the floor's fsyncs
    t0 = time.monotonic()
    running = {name: subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(f"{fdir}/{name}.log", "w"))
               for name, argv in commands.items()}
    seconds: dict[str, float] = {}
    deadline = t0 + opts.timeout
    while len(seconds) < len(running):
        for name, proc in running.items():
            if name not in seconds and proc.poll() is not None:
                seconds[name] = round(time.monotonic() - t0, 3)
                if proc.returncode != 0:
                    raise RuntimeError(f"floor: {name} exited with {proc.returncode}: {open(f'{fdir}/{name}.log').read()[-500:]}")
        if time.monotonic() > deadline:
            for proc in running.values():
                proc.kill()
            raise RuntimeError(f"floor: not done after {opts.timeout} s")
        time.sleep(0.005)
    wall = time.monotonic() - t0
    loaded = subprocess.run(["sqlite3", f"{fdir}/floor.db", "SELECT (SELECT count(*) FROM raw_users) || ' ' || "
                             "(SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM dlq_records)"],
                            check=True, capture_output=True, text=True, timeout=60).stdout.split()
    pages = len(os.listdir(f"{fdir}/pages"))
    page_bytes = sum(os.path.getsize(f"{fdir}/pages/{n}") for n in os.listdir(f"{fdir}/pages"))
    return {"wall_s": round(wall, 3), "tool_s": seconds, "pages": pages, "page_bytes": page_bytes,
            "rows": {"raw": int(loaded[0]), "users": int(loaded[1]), "dlq": int(loaded[2])},
            "uploaded_bytes": sum(os.path.getsize(p) for p in files.values())}


class Pipeline:
    """One whole-pipeline run in its own work directory (`data/` staging, `database/data.db`,
    `logs/<process>.log`, `redis/`): a fresh redis-server, the SFTP server's upload folder emptied,
    the fixture (N users, 5% bad, seed 1), then API, Saver and `transformers` Transformer replicas,
    and — once the transformers and the saver listen — `Extractor --once`; `run()` returns when
    the manifest is on the SFTP server and the ledger says `completed`.

    Each stage gets its own INSTANCE_ID (`extractor-1`, `transformer-1` … `transformer-N`,
    `saver-1`), so replicas never share an identity (a shared one takes the other's claims).
    `chunk_users` sets CHUNK_USERS (a build without chunks ignores it); `extra_env` is added to
    the pipeline stages' environment (not the fixture's). Used by this benchmark and by
    scripts/compare_outputs.py.
    """

    def __init__(self, opts, sftp: SFTPServer, work: str, users: int, bin_dir: str, *, transformers: int = 1,
                 chunk_users: int | None = None, extra_env: dict[str, str] | None = None,
                 fixture_bin: str | None = None, perf: str | None = None):
        self.opts, self.sftp, self.work, self.users, self.bin = opts, sftp, work, users, bin_dir
        self.transformers, self.perf = transformers, perf
        self.fixture_bin = fixture_bin or bin_dir
        self.data, self.logs, self.db = f"{work}/data", f"{work}/logs", f"{work}/database/data.db"
        os.makedirs(self.logs, exist_ok=True)
        self.redis = Redis(opts.repo, opts.redis_port, f"{work}/redis")
        self.known_hosts = f"{work}/known_hosts"
        self.children: list[Child] = []
        self.fixture: Child | None = None
        self.extractor: Child | None = None
        self.run_id: str | None = None
        self.env = dict(os.environ,
                        REDIS_URL=self.redis.url, DATA_DIR=self.data, DB_PATH=self.db,
                        DUMMYJSON_URL=f"http://127.0.0.1:{opts.fixture_port}/users", PAGE_SIZE="100",
                        SFTP_HOST="127.0.0.1", SFTP_PORT=str(opts.sftp_port), SFTP_USER="sftp_user",
                        SFTP_KEY_PATH=f"{opts.repo}/ssh_keys/id_ed25519", SFTP_KNOWN_HOSTS=self.known_hosts,
                        SFTP_REMOTE_DIR="upload", API_HOST="127.0.0.1", API_PORT=str(opts.api_port),
                        LOG_LEVEL="info", LOG_FORMAT="text")
        for key in ("RECONCILE_INTERVAL_SECONDS", "STAGING_KEEP_RUNS", "CHUNK_USERS", "INSTANCE_ID"):
            self.env.pop(key, None)  # the defaults, as a deployment has them
        self.fixture_env = dict(self.env)
        if chunk_users is not None:
            self.env["CHUNK_USERS"] = str(chunk_users)
        self.env.update(extra_env or {})

    def spawn(self, name: str, *argv: str, label: str | None = None, instance: str | None = None,
              bin_dir: str | None = None, env: dict[str, str] | None = None) -> Child:
        """`name` from the build (or `bin_dir`), logging to logs/<label>.log."""
        label = label or name
        command = [f"{bin_dir or self.bin}/{name}", *argv]
        if self.perf and name in STAGES:
            # --perf DIR: the stage runs under `perf record`, which follows every thread it starts
            # (attaching with -p later misses threads); the peak RSS reported is then perf's.
            os.makedirs(self.perf, exist_ok=True)
            command = ["perf", "record", "-q", "-F", "999", "-g", "-o", f"{self.perf}/{label}-{self.users}.data", "--", *command]
        env = env or (self.env if instance is None else dict(self.env, INSTANCE_ID=instance))
        child = Child(label, command, env, f"{self.logs}/{label}.log")
        child.spawned_as = (name, argv, instance, bin_dir, env)  # how restart() starts it again
        self.children.append(child)
        return child

    def restart(self, dead: Child) -> Child:
        """Starts a stage again the way `dead` was started — the same executable, arguments
        (`Extractor --once`), INSTANCE_ID and environment — logging to logs/<label>-restarted.log,
        and puts it in `dead`'s place (the extractor, the saver or that transformer replica)."""
        name, argv, instance, bin_dir, env = dead.spawned_as
        child = self.spawn(name, *argv, label=f"{dead.name}-restarted", instance=instance, bin_dir=bin_dir, env=env)
        if dead is self.extractor:
            self.extractor = child
        elif dead is self.saver:
            self.saver = child
        else:
            self.transformer_children = [child if c is dead else c for c in self.transformer_children]
        return child

    def start(self) -> None:
        opts = self.opts
        self.redis.start()
        self.sftp.start(self.known_hosts)
        self.sftp.clear()
        self.fixture = self.spawn("DummyJSON", "--host", "127.0.0.1", "--port", str(opts.fixture_port),
                                  "--users", str(self.users), "--bad-fraction", "0.05", bin_dir=self.fixture_bin,
                                  env=self.fixture_env)
        wait_until("the fixture", lambda: http_ok(f"http://127.0.0.1:{opts.fixture_port}/health"), 60, 0.05, [self.fixture])
        api = self.spawn("API")
        self.saver = self.spawn("Saver", instance="saver-1")
        self.transformer_children = [
            self.spawn("Transformer", label="Transformer" if self.transformers == 1 else f"Transformer-{k}",
                       instance=f"transformer-{k}")
            for k in range(1, self.transformers + 1)]
        # Signals are the hand-off: start extracting only once the downstream stages listen.
        wait_until("the transformer and saver subscriptions",
                   lambda: self.redis.numsub("channel:phase1_complete") >= self.transformers
                   and self.redis.numsub("channel:phase2_complete") >= 1,
                   60, 0.02, [self.saver, *self.transformer_children])
        wait_until("the API", lambda: http_ok(f"http://127.0.0.1:{opts.api_port}/health"), 60, 0.05, [api])

    def run(self, during=None) -> str:
        """Starts `Extractor --once` and returns the run id once the manifest is uploaded and the
        ledger says `completed`. Sets t0 (monotonic, just before the spawn), wall0 (the same
        instant on the wall clock), t_end (the first poll that saw the manifest), t_completed
        (the first poll after it that saw `completed`). `during()`, when given, is called at every
        poll (every 5 ms) until the manifest is there (`--kill`: a `Killer`); a stage it
        restarts (`restart()`) replaces the dead one in the checks below."""
        redis, upload = self.redis, self.sftp.upload
        # Dirty pages of earlier work (a previous run, the staging just written) are flushed first,
        # so neither the pipeline nor the floor pays for another's writeback in its fsyncs.
        os.sync()
        self.load_before = os.getloadavg()
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.extractor = self.spawn("Extractor", "--once", instance="extractor-1")

        def failed() -> None:
            # A failed run never gets a manifest: stop waiting at once.
            run_ids = redis.cli("ZRANGE", "etl:runs", "0", "-1").split()
            if run_ids and redis.cli("HGET", f"etl:run:{run_ids[-1]}", "status").strip() == "failed":
                raise RuntimeError(f"run {run_ids[-1]} failed: {redis.cli('HGET', f'etl:run:{run_ids[-1]}', 'error').strip()}")
            if self.extractor.poll() and self.extractor.status != 0:
                raise RuntimeError(f"{self.extractor.name} exited with {self.extractor.status}")
            for child in [self.saver, *self.transformer_children, self.fixture]:
                if child.poll():
                    raise RuntimeError(f"{child.name} exited with {child.status} during the run")

        # Poll often: this is the end-to-end clock. Look at the directory every 5 ms, and at the
        # ledger and the processes (to stop early on a failure) every 0.5 s.
        deadline = self.t0 + self.opts.timeout
        polls = 0
        while True:
            names = [n for n in os.listdir(upload) if n.endswith("_manifest.json")]
            if names:
                break
            polls += 1
            if polls % 100 == 0:
                failed()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no manifest after {self.opts.timeout} s")
            if during:
                during()
            time.sleep(0.005)
        self.t_end = time.monotonic()
        run_id = self.run_id = names[0][: -len("_manifest.json")]
        wait_until("the ledger's completed status",
                   lambda: redis.cli("HGET", f"etl:run:{run_id}", "status").strip() == "completed", 30, 0.005)
        self.t_completed = time.monotonic()
        wait_until("the extractor's exit", lambda: self.extractor.poll(), 60)
        self.load_after = os.getloadavg()
        return run_id

    def stop_stages(self) -> None:
        """Stops every process but the fixture (the floor's curl still needs it)."""
        for child in reversed(self.children):
            if child is not self.fixture:
                child.stop()

    def close(self) -> None:
        for child in reversed(self.children):
            try:
                child.stop(5)
            except Exception as e:  # keep stopping the others
                print(f"warning: stopping {child.name}: {e}", file=sys.stderr)
        self.redis.stop()


# --kill STAGE[@N[+MS]]: the stage's process, its phase, and the word of its per-chunk log line.
KILL_STAGES = {"extractor": ("Extractor", "extract", "sealed"), "transformer": ("Transformer", "transform", "transformed"),
               "saver": ("Saver", "save", "saved")}
KILL_SPEC = re.compile(r"(extractor|transformer|saver)(?:@(\d+)(?:\+(\d+))?)?")


def parse_kill(text: str) -> dict:
    m = KILL_SPEC.fullmatch(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: expected extractor|transformer|saver, optionally @N or @N+MS")
    return {"spec": text, "stage": m[1], "after": None if m[2] is None else int(m[2]), "delay_ms": int(m[3] or 0)}


class Killer:
    """`--kill`: SIGKILLs one stage's process mid-run and restarts it at once (`Pipeline.restart`:
    the same executable, arguments, INSTANCE_ID and environment), then watches the claims the dead
    process held until the restarted one owns them.

    The kill point is read from the ledger (`HKEYS etl:run:<run>`, every poll): once the stage's
    phase has `after` chunk records (`chunk:<nnnnnn>:extract` sealed, `:transform` transformed,
    `:save` saved), plus `delay_ms`; by default half the run's chunks (users ÷ the run's
    `chunk_users`, rounded down); `@0` is as soon as the phase has begun (`<phase>_started_at`).
    Fails when the phase finished before that point. With several transformer replicas the first
    one is killed.

    Right after the kill (the process reaped) and before the restart, the claims (`etl:lock:*`)
    owned by the stage's INSTANCE_ID are listed with their remaining TTL: they are the dead
    process's. After the restart each is polled (every 5 ms) until its owner is another life of
    that INSTANCE_ID (taken over) or it is gone (released by the restarted process between two
    polls, or expired)."""

    def __init__(self, pipe: "Pipeline", spec: dict):
        self.pipe, self.spec = pipe, spec
        self.stage, self.phase, self.word = KILL_STAGES[spec["stage"]]
        self.after = spec["after"]
        self.state = "waiting"  # → "watching" (killed and restarted) → "done"
        self.run_id: str | None = None
        self.reached: float | None = None
        self.total: int | None = None  # the run's chunks: users ÷ its chunk_users
        self.result: dict = {"kill": spec["spec"], "stage": spec["stage"]}

    def target(self) -> Child:
        p = self.pipe
        return {"Extractor": p.extractor, "Saver": p.saver}.get(self.stage) or p.transformer_children[0]

    def poll(self) -> None:
        if self.state == "waiting":
            self._wait()
        elif self.state == "watching":
            self._watch()

    def _chunks_done(self, fields: list[str]) -> int:
        return sum(1 for f in fields if f.startswith("chunk:") and f.endswith(":" + self.phase))

    def _wait(self) -> None:
        redis = self.pipe.redis
        if self.run_id is None:
            ids = redis.cli("ZRANGE", "etl:runs", "0", "-1").split()
            if not ids:
                return
            self.run_id = ids[-1]
        if self.reached is None:
            fields = resp_command(redis.port, ["HKEYS", f"etl:run:{self.run_id}"]) or []
            if self.total is None and "chunk_users" in fields:
                chunk_users = int(redis.cli("HGET", f"etl:run:{self.run_id}", "chunk_users"))
                self.total = -(-self.pipe.users // chunk_users)
            if self.after is None:
                if self.total is None:
                    return
                self.after = self.total // 2
            done = self._chunks_done(fields)
            if f"{self.phase}_finished_at" in fields:
                raise RuntimeError(f"--kill {self.spec['spec']}: the {self.phase} phase finished ({done} chunks) "
                                   f"before the kill point; choose a smaller @N")
            if not (done >= self.after if self.after > 0 else f"{self.phase}_started_at" in fields):
                return
            self.reached = time.monotonic()
        if time.monotonic() - self.reached >= self.spec["delay_ms"] / 1000:
            self._kill_and_restart()

    def _kill_and_restart(self) -> None:
        pipe, redis = self.pipe, self.pipe.redis
        dead = self.target()
        instance = dead.spawned_as[2]
        t_kill = time.monotonic()
        os.kill(dead.pid, signal.SIGKILL)
        _, status, usage = os.wait4(dead.pid, 0)
        dead._reaped(status, usage)
        if dead.status != -signal.SIGKILL:
            raise RuntimeError(f"--kill {self.spec['spec']}: {dead.name} had exited ({dead.status}) before the kill")
        # The dead process's claims: the only process with this identity is gone.
        keys = sorted(resp_command(redis.port, ["KEYS", "etl:lock:*"]) or [])
        owners = resp_command(redis.port, ["MGET", *keys]) if keys else []
        held = {k: v for k, v in zip(keys, owners) if v and v.startswith(f"{instance}:")}
        self.t_restart, self.wall_restart = time.monotonic(), time.time()
        self.child = pipe.restart(dead)
        self.instance, self.dead = instance, dead
        ttl = {k: resp_command(redis.port, ["PTTL", k]) for k in held}
        fields = resp_command(redis.port, ["HKEYS", f"etl:run:{self.run_id}"]) or []
        self.claims = {k: {"owner_at_kill": v, "ttl_left_ms": ttl[k]} for k, v in held.items()}
        for key, claim in self.claims.items():
            # A chunk claim whose chunk the ledger already records for that phase (killed between
            # recording it and releasing the claim): no later life needs it; it just expires.
            parts = key.split(":")  # etl, lock, <phase>, <run>[, <nnnnnn>]
            if len(parts) == 5 and f"chunk:{parts[4]}:{parts[2]}" in fields:
                claim["needed"] = False
        self.result.update({
            "run_id": self.run_id, "after_chunks": self.after, "delay_ms": self.spec["delay_ms"],
            "chunks_total": self.total,
            "chunks_done_at_kill": self._chunks_done(fields),
            "killed_at_s": round(t_kill - pipe.t0, 3), "kill_to_restart_ms": round((self.t_restart - t_kill) * 1000, 1),
            "killed_pid": dead.pid, "restarted_pid": self.child.pid, "instance_id": instance,
        })
        self.state = "watching"

    def _watch(self) -> None:
        now = time.monotonic()
        pending = [k for k, c in self.claims.items() if "taken_over_s" not in c and "gone_s" not in c]
        if pending:
            for key, owner in zip(pending, resp_command(self.pipe.redis.port, ["MGET", *pending])):
                claim = self.claims[key]
                if owner is None:
                    claim["gone_s"] = round(now - self.t_restart, 3)
                elif owner != claim["owner_at_kill"] and owner.startswith(f"{self.instance}:"):
                    claim["taken_over_s"] = round(now - self.t_restart, 3)
                    claim["owner_after"] = owner
        if not pending or now - self.t_restart > 60:
            self.state = "done"

    def finish(self) -> dict:
        """After the run: the figures (`recovery` in the JSON line)."""
        pipe, r = self.pipe, self.result
        if self.state == "waiting":
            raise RuntimeError(f"--kill {self.spec['spec']}: the run completed before the kill point")
        self._watch()
        r["restart_to_completed_s"] = round(pipe.t_completed - self.t_restart, 3)
        r["restart_to_manifest_s"] = round(pipe.t_end - self.t_restart, 3)
        r["claims_at_kill"] = self.claims
        # Taken over at once: every claim the dead process held was owned by the restarted one
        # before it could have expired, and the restarted one's log never waited for a claim.
        new_log = f"{pipe.logs}/{self.child.name}.log"
        events = list(log_events(new_log))
        waited = [m for _, m, _ in events if "waiting for the claim" in m or "holds this run" in m]
        r["log_waited_for_claim"] = waited
        r["log_resumed"] = [m + "".join(f" {k}={v}" for k, v in meta.items() if k not in ("run_id", "stage"))
                            for _, m, meta in events if m.startswith("resuming")]
        mine = lambda name: {int(meta["chunk"]) for _, m, meta in log_events(f"{pipe.logs}/{name}.log")
                             if meta.get("chunk", "").isdigit() and re.search(rf"\bchunk\b.*\b{self.word}\b", m)}
        restarted_chunks = mine(self.child.name)
        first = [at for at, m, meta in events if meta.get("chunk", "").isdigit() and re.search(rf"\bchunk\b.*\b{self.word}\b", m)]
        r["first_chunk_after_restart_s"] = round(min(first) - self.wall_restart, 3) if first else None
        r["chunks_by_restarted"] = len(restarted_chunks)
        r["chunks_redone"] = sorted(mine(self.dead.name) & restarted_chunks)
        # A claim gone before its TTL ran out was deleted by its owner (only the owner may): the
        # restarted process took it over and finished between two polls.
        at = lambda c: c.get("taken_over_s", c.get("gone_s"))
        needed = [c for c in self.claims.values() if c.get("needed", True)]
        taken = [c for c in needed if at(c) is not None and at(c) * 1000 < c["ttl_left_ms"]]
        if not self.claims:
            r["took_over"] = "no claim held at the kill"
        elif not needed:
            r["took_over"] = "no claim needed (held only for chunks recorded before the kill)"
        elif len(taken) == len(needed) and not waited:
            r["took_over"] = "at once"
        else:
            r["took_over"] = "no"
        return r


# The per-chunk timeline, from the stages' logs. A chunked stage logs one line per chunk it
# finished: the extractor `chunk sealed`, the transformer `chunk transformed`, the saver one with
# `saved`; each carries `chunk=<n>` metadata. Counted: a line of the run with `chunk=` metadata whose
# message has the word `chunk` and one of the words sealed / transformed / saved. LineLogHandler (Sources/PipelineCore/Logging) writes
# `<ts> <LEVEL> [stage] run=<id> <message> key=value …` (LOG_FORMAT=text, values with spaces
# quoted) or one JSON object with `ts`, `msg` and the metadata (LOG_FORMAT=json); `ts` is ISO 8601
# UTC with milliseconds.
TIMELINE_STAGES = {"sealed": "extract", "transformed": "transform", "saved": "save"}
TEXT_LINE = re.compile(r"^(\S+) +[A-Za-z]+ +\[[^\]]*\] (.*)$")
TOKEN = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)|(\S+)')


def parse_log_time(text: str) -> float | None:
    from datetime import datetime, timezone
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def log_events(path: str):
    """(time, message, metadata) for every line of a stage's log that parses."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                at = parse_log_time(str(obj.get("ts", "")))
                if at is not None:
                    yield at, str(obj.get("msg", "")), {k: str(v) for k, v in obj.items() if k not in ("ts", "msg")}
                continue
            m = TEXT_LINE.match(line)
            at = parse_log_time(m.group(1)) if m else None
            if at is None:
                continue
            # `run=<id>` first, then the message, then the metadata: the key=value tokens after
            # the message's last word.
            tokens = TOKEN.findall(m.group(2))
            meta = {}
            if tokens and tokens[0][0] == "run":
                meta["run_id"] = tokens.pop(0)[1]
            last_word = max((i for i, t in enumerate(tokens) if t[2]), default=-1)
            words = [t[2] or f"{t[0]}={t[1]}" for t in tokens[: last_word + 1]]
            for key, value, _ in tokens[last_word + 1:]:
                if value.startswith('"'):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                meta[key] = value
            yield at, " ".join(words), meta


def chunk_timeline(logs: str, run_id: str, wall0: float) -> list[dict]:
    """Per chunk, when each stage finished it (ms since `wall0`) and which process did (the log
    file's name: `Transformer-2`). A chunk finished twice by a stage (redone after a kill) keeps
    the last time."""
    chunks: dict[int, dict] = {}
    for name in sorted(os.listdir(logs)):
        process = name[: -len(".log")]
        for at, message, meta in log_events(f"{logs}/{name}"):
            if "chunk" not in meta or meta.get("run_id", run_id) != run_id:
                continue
            # `chunk sealed`, `chunk transformed`, `chunk saved`: the word `chunk` and the stage's word
            # (not `resuming after the sealed chunks`, which also names a chunk).
            if not re.search(r"\bchunk\b", message):
                continue
            word = next((w for w in TIMELINE_STAGES if re.search(rf"\b{w}\b", message)), None)
            try:
                index = int(meta["chunk"])
            except ValueError:
                continue
            if word is None:
                continue
            phase = TIMELINE_STAGES[word]
            entry = chunks.setdefault(index, {"chunk": index})
            ms = round((at - wall0) * 1000)
            if ms >= entry.get(f"{phase}_ms", ms):
                entry[f"{phase}_ms"], entry[f"{phase}_by"] = ms, process
            if meta.get("rows", "").isdigit() and (phase == "extract" or "rows" not in entry):
                entry["rows"] = int(meta["rows"])
    return [chunks[k] for k in sorted(chunks)]


def timeline_text(chunks: list[dict], end_ms: int, width: int = 50) -> str:
    """One line per chunk: when each stage finished it and a bar from 0 to the run's end with E
    (sealed), T (transformed) and S (saved); then one lane per stage, `=` from its first chunk to
    its last. Lanes that overlap are stages working at the same time."""
    if not chunks:
        return ("chunk timeline: no chunk lines in the stages' logs (a build without chunks: each stage "
                "works on the whole run; see the per-stage seconds above)")
    end_ms = max([end_ms] + [c.get(f"{p}_ms", 0) for c in chunks for p in PHASES])
    col = lambda ms: min(width - 1, max(0, int(ms * width / max(end_ms, 1))))
    fmt = lambda v: "–" if v is None else f"{v:,}"

    def bar(marks: list[tuple[int, str]], fill: str) -> str:
        lane = [" "] * width
        if marks:
            for i in range(col(min(t for t, _ in marks)), col(max(t for t, _ in marks)) + 1):
                lane[i] = fill
            for t, m in marks:
                lane[col(t)] = m
        return "|" + "".join(lane) + "|"

    head = f"{'chunk':>6} {'rows':>7} {'sealed':>8} {'transformed':>11} {'saved':>8} {'transformed by':<14} "
    out = [f"chunk timeline: ms from the extractor's start until each stage finished the chunk "
           f"({len(chunks)} chunks; the run's end {end_ms:,} ms; E sealed, T transformed, S saved)",
           head + "0 ms".ljust(width + 2 - len(f"{end_ms:,} ms")) + f"{end_ms:,} ms"]
    for c in chunks:
        marks = [(c[f"{p}_ms"], m) for p, m in zip(PHASES, "ETS") if f"{p}_ms" in c]
        out.append(f"{c['chunk']:>6} {fmt(c.get('rows')):>7} {fmt(c.get('extract_ms')):>8} "
                   f"{fmt(c.get('transform_ms')):>11} {fmt(c.get('save_ms')):>8} {c.get('transform_by', '–'):<14} "
                   + bar(marks, "-"))
    for phase, mark in zip(PHASES, "ETS"):
        times = [c[f"{phase}_ms"] for c in chunks if f"{phase}_ms" in c]
        span = f"{len(times)} chunks, {min(times):,}–{max(times):,} ms" if times else "no lines"
        out.append(f"{phase + ' (' + span + ')':>{len(head)}}" + bar([(t, mark) for t in times], "="))
    return "\n".join(out)


TIMELINE_CSV = ["users", "run", "run_id", "chunk", "rows", "extract_ms", "transform_ms", "save_ms", "transform_by"]


def write_timeline(path: str, results: list[dict]) -> None:
    """Every run's chunks so far, one CSV row per chunk (ms since the extractor's start)."""
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, TIMELINE_CSV, extrasaction="ignore")
        out.writeheader()
        for r in results:
            for c in r["timeline"]:
                out.writerow({"users": r["users"], "run": r["run"], "run_id": r["run_id"], **c})


def check_decryption(upload: str, run_id: str, identity: str) -> dict:
    """--encrypt: each `.age` file decrypted by the age tool must give the plaintext SHA-256 the
    manifest lists, and be the ciphertext it lists; returns the per-file ciphertext and plaintext
    sizes. Raises when a file does not decrypt or does not match."""
    with open(f"{upload}/{run_id}_manifest.json") as f:
        manifest = json.load(f)
    out = {}
    for entry in manifest["files"]:
        path = f"{upload}/{entry['name']}"
        plain = hashlib.sha256()
        with subprocess.Popen(["age", "-d", "-i", identity, path], stdout=subprocess.PIPE) as p:
            for block in iter(lambda: p.stdout.read(1 << 20), b""):
                plain.update(block)
        if p.returncode != 0 or plain.hexdigest() != entry["sha256"]:
            raise RuntimeError(f"{entry['name']} does not decrypt to the manifest's plaintext (age exit {p.returncode})")
        with open(path, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != entry["ciphertext"]["sha256"]:
                raise RuntimeError(f"{entry['name']} is not the ciphertext the manifest lists")
        out[entry["name"]] = {"plaintext_bytes": entry["bytes"], "ciphertext_bytes": entry["ciphertext"]["bytes"]}
    log(f"age -d: {len(out)} files decrypt to the manifest's plaintext SHA-256")
    return out


def one_run(opts, sftp: SFTPServer, users: int, index: int, kill: dict | None = None, reference=None,
            reference_dir: str | None = None) -> dict:
    """One run. `kill`: a parsed `--kill` (`Killer`), the run's outputs then compared with
    `reference` (a compare_outputs.Side); `reference_dir`: keep this run's uploads and database
    there, to be the reference of the killed runs."""
    work = tempfile.mkdtemp(prefix=f"bench-pipeline-{users}-", dir=opts.work_root)
    extra_env = {}
    if opts.encrypt:
        # --encrypt: an age identity of this run's; the saver gets only its public key.
        identity = f"{work}/age-identity.txt"
        subprocess.run(["age-keygen", "-o", identity], check=True, capture_output=True)
        recipient = subprocess.run(["age-keygen", "-y", identity], check=True, capture_output=True, text=True).stdout.strip()
        extra_env["SFTP_ENCRYPT_RECIPIENTS"] = recipient
    pipe = Pipeline(opts, sftp, work, users, opts.bin, transformers=opts.transformers, chunk_users=opts.chunk_users,
                    extra_env=extra_env, perf=opts.perf)
    result: dict = {"users": users, "run": index, "transformers": opts.transformers, "chunk_users": opts.chunk_users,
                    "kill": kill and kill["spec"], "undisturbed_reference": reference_dir is not None,
                    "encrypted": opts.encrypt}
    record: dict[str, str] = {}
    try:
        pipe.start()
        killer = Killer(pipe, kill) if kill else None
        run_id = pipe.run(during=killer.poll if killer else None)
        redis = pipe.redis
        record = redis.hash(f"etl:run:{run_id}")
        with urllib.request.urlopen(f"http://127.0.0.1:{opts.api_port}/etl_runs/{run_id}", timeout=5) as r:
            api_status = json.load(r).get("status")

        pipe.stop_stages()
        db = pipe.db
        db_bytes = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
        # The outcome, before the floor writes its own files to the server's folder.
        if reference_dir:
            shutil.copytree(sftp.upload, f"{reference_dir}/upload")
            shutil.copytree(os.path.dirname(db), f"{reference_dir}/database")
        if kill:
            shutil.copytree(sftp.upload, f"{work}/upload")
        if opts.encrypt:
            result["decrypted"] = check_decryption(sftp.upload, run_id, f"{work}/age-identity.txt")
        # The stages are stopped; the fixture and the SFTP server serve the floor's tools.
        floor_result = floor(opts, work, sftp.upload, run_id, users, db, pipe.known_hosts) if opts.floor else None
        pipe.fixture.stop()
        if killer:
            result["recovery"] = killer.finish()
            from compare_outputs import Outcomes, Side  # imports this module: only here
            log(f"outputs of the run killed ({kill['spec']}) against the undisturbed run {reference.run_id}")
            outcomes = Outcomes(out=sys.stderr)
            outcomes.all(reference, Side(f"killed ({kill['spec']})", work, run_id, db))
            result["recovery"]["outputs_identical"] = outcomes.failures == 0
            result["recovery"]["outputs_different"] = outcomes.different
            result["recovery"]["compared_with"] = reference.run_id
            result["recovery"]["undisturbed_end_to_end_s"] = reference.end_to_end_s

        stages = {}
        for phase in PHASES:
            s, f = parse_ts(record[f"{phase}_started_at"]), parse_ts(record[f"{phase}_finished_at"])
            stages[phase] = {"seconds": round(f - s, 3), "users_per_s": int(users / max(f - s, 1e-3))}
        gaps = {
            "start_to_extract": round(parse_ts(record["extract_started_at"]) - pipe.wall0, 3),
            "extract_to_transform": round(parse_ts(record["transform_started_at"]) - parse_ts(record["extract_finished_at"]), 3),
            "transform_to_save": round(parse_ts(record["save_started_at"]) - parse_ts(record["transform_finished_at"]), 3),
        }
        e2e = pipe.t_end - pipe.t0
        staged = {**file_bytes(record.get("extract_files")), **file_bytes(record.get("transform_files"))}
        uploaded = file_bytes(record.get("save_files"))
        result.update({
            "run_id": run_id, "status": record["status"], "api_status": api_status,
            "end_to_end_s": round(e2e, 3), "users_per_s": int(users / e2e),
            "stages": stages, "handoff_s": gaps,
            "peak_rss_mib": {c.name: round(c.maxrss_kib / 1024, 1) for c in pipe.children},
            "cpu_s": {c.name: round(c.cpu_s, 2) for c in pipe.children},
            "bytes": {"staged": sum(staged.values()), "uploaded": sum(uploaded.values()), "database": db_bytes,
                      "staged_files": staged, "uploaded_files": uploaded},
            "counts": {p: json.loads(record.get(f"{p}_counts", "{}")) for p in PHASES},
            "load_avg_1m": [round(pipe.load_before[0], 2), round(pipe.load_after[0], 2)],
            "floor": floor_result,
            "timeline": chunk_timeline(pipe.logs, run_id, pipe.wall0),
            "bin": opts.bin, "nproc": os.cpu_count(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(pipe.wall0)),
        })
        return result
    finally:
        pipe.close()
        if opts.keep:
            dest = os.path.join(opts.keep, f"{users}-{index}")
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            shutil.move(pipe.data, f"{dest}/data") if os.path.exists(pipe.data) else None
            shutil.move(f"{work}/database", f"{dest}/database") if os.path.exists(f"{work}/database") else None
            shutil.move(pipe.logs, f"{dest}/logs")
            shutil.copytree(sftp.upload, f"{dest}/upload")
            if record:
                with open(f"{dest}/ledger.json", "w") as f:
                    json.dump(record, f, indent=1, sort_keys=True)  # the run's ledger hash, to replay a stage
        shutil.rmtree(work, ignore_errors=True)


def run_label(r: dict) -> str:
    return (f"{r['run']} kill {r['kill']}" if r.get("kill")
            else "undisturbed" if r.get("undisturbed_reference") else str(r["run"]))


def fmt_row(r: dict) -> str:
    s, rss, b = r["stages"], r["peak_rss_mib"], r["bytes"]
    mb = lambda n: f"{n / 1e6:,.1f}"
    # A killed and restarted stage lists both processes (`Saver`, `Saver-restarted`).
    return (f"| {r['users']:>9,} | {run_label(r)} | **{r['end_to_end_s']:.2f}** | {r['users_per_s']:>7,} | "
            f"{s['extract']['seconds']:.2f} | {s['transform']['seconds']:.2f} | {s['save']['seconds']:.2f} | "
            f"{r['handoff_s']['extract_to_transform']:.3f} / {r['handoff_s']['transform_to_save']:.3f} | "
            + " / ".join(",".join(map(str, replicas(rss, stage))) for stage in STAGES) + " | "
            f"{mb(b['staged'])} / {mb(b['uploaded'])} / {mb(b['database'])} | "
            f"{r['load_avg_1m'][0]:.1f}→{r['load_avg_1m'][1]:.1f} | {floor_cell(r)} |")


def replicas(by_process: dict, stage: str) -> list:
    """A stage's values by process, replicas (`Transformer-1`, `Transformer-2`, …) in order."""
    return [v for name, v in sorted(by_process.items()) if name == stage or name.startswith(stage + "-")]


def floor_cell(r: dict) -> str:
    f = r.get("floor")
    if not f:
        return "–"
    t = f["tool_s"]
    return (f"{f['wall_s']:.2f} (curl {t['curl']:.2f}, sqlite3 {t['sqlite3']:.2f}, sftp {t['sftp']:.2f}); "
            f"pipeline {r['end_to_end_s'] / max(f['wall_s'], 1e-3):.2f}×")


RECOVERY_HEADER = (
    "| users | run | killed at (chunks of the stage done / run's chunks; s after the start) | claims of the dead "
    "process → owned by the restarted one after s (TTL left) | took over | restart → first chunk s | "
    "restart → completed s | end to end s (undisturbed) | chunks redone | outputs vs the undisturbed run |\n"
    "|---:|---|---|---|---|---:|---:|---|---|---|")


def fmt_recovery(r: dict) -> str:
    k = r["recovery"]
    claims = "; ".join(
        f"{key.removeprefix('etl:lock:')} → "
        + (f"{c['taken_over_s']:.3f}" if "taken_over_s" in c else f"gone at {c['gone_s']:.3f}" if "gone_s" in c else "never")
        + f" ({c['ttl_left_ms'] / 1000:.1f} s)" + ("" if c.get("needed", True) else " (chunk already recorded: not needed)")
        for key, c in sorted(k["claims_at_kill"].items())) or "none"
    first = k["first_chunk_after_restart_s"]
    return (f"| {r['users']:>9,} | {run_label(r)} | {k['chunks_done_at_kill']} / {k['chunks_total'] or '?'}; "
            f"{k['killed_at_s']:.2f} s | {claims} | {k['took_over']} | {'–' if first is None else f'{first:.3f}'} | "
            f"**{k['restart_to_completed_s']:.2f}** | {r['end_to_end_s']:.2f} ({k['undisturbed_end_to_end_s']:.2f}) | {','.join(map(str, k['chunks_redone'])) or 'none'} | "
            + ("identical" if k["outputs_identical"] else "DIFFERENT: " + ", ".join(k["outputs_different"])) + " |")


HEADER = ("| users | run | end to end s | users/s | extract s | transform s | save s | hand-offs s (E→T / T→S) | "
          "peak RSS MiB (E / T / S / API) | MB staged / uploaded / db | load 1m | floor s (tools in parallel); pipeline ÷ floor |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--users", type=int, nargs="+", default=[208])
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--keep")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--perf", help="write a `perf record -g` profile of each stage to this directory")
    p.add_argument("--transformers", type=int, default=1, help="Transformer replicas (each its own INSTANCE_ID)")
    p.add_argument("--chunk-users", type=int, help="CHUNK_USERS for the stages (unset: the build's default)")
    p.add_argument("--timeline", help="also write the per-chunk timeline of every run to this CSV file")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="skip the floor (curl, sqlite3 and sftp moving the same bytes in parallel after each run)")
    p.add_argument("--encrypt", action="store_true",
                   help="encrypt the uploads to an age identity made for each run, and check each file decrypts (no floor)")
    p.add_argument("--kill", type=parse_kill, action="append", default=[], metavar="STAGE[@N[+MS]]",
                   help="SIGKILL the stage (extractor|transformer|saver) mid-run and restart it at once; repeatable")
    opts = p.parse_args()
    if opts.encrypt and opts.floor:
        log("--encrypt: no floor (its tools read the uploaded files as plain JSONL)")
        opts.floor = False
    opts.bin = os.path.abspath(opts.bin)
    opts.redis_port = int(os.environ.get("BENCH_REDIS_PORT", 16479))
    opts.sftp_port = int(os.environ.get("BENCH_SFTP_PORT", 12240))
    opts.fixture_port = int(os.environ.get("BENCH_FIXTURE_PORT", 18390))
    opts.api_port = int(os.environ.get("BENCH_API_PORT", 18391))
    opts.work_root = os.environ.get("BENCH_WORK_ROOT", "/tmp")
    if opts.keep:
        opts.keep = os.path.abspath(opts.keep)
        os.makedirs(opts.keep, exist_ok=True)
    if opts.repeat < 1 or opts.transformers < 1 or any(n < 1 for n in opts.users):
        p.error("--repeat, --transformers and --users must be at least 1")
    if opts.chunk_users is not None and opts.chunk_users < 1:
        p.error("--chunk-users must be at least 1")
    for name in STAGES + ["DummyJSON"]:
        if not os.access(f"{opts.bin}/{name}", os.X_OK):
            p.error(f"{opts.bin}/{name} is missing")
    for port in (opts.fixture_port, opts.api_port):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                p.error(f"127.0.0.1:{port} is already in use")

    # SIGTERM/SIGINT unwind through the finally blocks, which stop everything.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    # A run writes about 16 KB per user (staging, uploads, database; measured at 1,000,000), on
    # the work directory's and the SFTP server's file system: refuse rather than fill the disk.
    need = max(opts.users) * 20_000 * (2 if opts.keep else 1) + (max(opts.users) * 10_000 if opts.kill else 0)
    free = shutil.disk_usage(opts.work_root).free
    if free < need:
        p.error(f"{need / 1e9:.0f} GB free needed for {max(opts.users):,} users, {free / 1e9:.0f} GB free in {opts.work_root}")

    sftp = SFTPServer(opts.repo, opts.sftp_port)
    results: list[dict] = []
    log(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, binaries {opts.bin}")
    def report(r: dict) -> None:
        results.append(r)
        print(json.dumps(r, sort_keys=True), flush=True)
        print(HEADER + "\n" + fmt_row(r), file=sys.stderr, flush=True)
        if r.get("recovery"):
            print(RECOVERY_HEADER + "\n" + fmt_recovery(r), file=sys.stderr, flush=True)
        print(timeline_text(r["timeline"], round(r["end_to_end_s"] * 1000)), file=sys.stderr, flush=True)
        if opts.timeline:
            write_timeline(opts.timeline, results)

    try:
        for users in opts.users:
            # --kill: first an undisturbed run (run 0), whose outputs every killed run must equal.
            reference = reference_dir = None
            try:
                if opts.kill:
                    from compare_outputs import Side
                    reference_dir = tempfile.mkdtemp(prefix=f"bench-pipeline-reference-{users}-", dir=opts.work_root)
                    log(f"{users} users, the undisturbed run the killed runs are compared with")
                    r = one_run(opts, sftp, users, 0, reference_dir=reference_dir)
                    reference = Side("undisturbed", reference_dir, r["run_id"], f"{reference_dir}/database/data.db")
                    reference.end_to_end_s = r["end_to_end_s"]
                    report(r)
                for kill in opts.kill or [None]:
                    for k in range(1, opts.repeat + 1):
                        log(f"{users} users, run {k}/{opts.repeat}" + (f", kill {kill['spec']}" if kill else ""))
                        report(one_run(opts, sftp, users, k, kill=kill, reference=reference))
            finally:
                if reference_dir:
                    shutil.rmtree(reference_dir, ignore_errors=True)
    finally:
        sftp.stop()

    print("\n" + HEADER, file=sys.stderr)
    for r in results:
        print(fmt_row(r), file=sys.stderr)
    if opts.kill:
        print("\n" + RECOVERY_HEADER, file=sys.stderr)
        for r in results:
            if r.get("recovery"):
                print(fmt_recovery(r), file=sys.stderr)
    if opts.repeat > 1:
        for users in opts.users:
            for kill in [k["spec"] for k in opts.kill] or [None]:
                runs = [r for r in results if r["users"] == users and r["kill"] == kill]
                summary = {"users": users, "kill": kill, "runs": len(runs), "summary": True}
                for key, get in {"end_to_end_s": lambda r: r["end_to_end_s"],
                                 **{f"{ph}_s": (lambda r, ph=ph: r["stages"][ph]["seconds"]) for ph in PHASES},
                                 **{f"rss_{st}_mib": (lambda r, st=st: max(replicas(r["peak_rss_mib"], st))) for st in STAGES},
                                 **({"restart_to_completed_s": lambda r: r["recovery"]["restart_to_completed_s"]} if kill else {})}.items():
                    values = [get(r) for r in runs]
                    summary[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
                print(json.dumps(summary, sort_keys=True), flush=True)
                print(f"{users:,} users over {len(runs)} runs{f' (kill {kill})' if kill else ''}: end to end min "
                      f"{summary['end_to_end_s']['min']:.2f} s, median {summary['end_to_end_s']['median']:.2f} s; "
                      + ", ".join(f"{ph} min/median {summary[f'{ph}_s']['min']:.2f}/{summary[f'{ph}_s']['median']:.2f} s" for ph in PHASES)
                      + (f"; restart → completed min/median/max {'/'.join(f'{v:.2f}' for v in summary['restart_to_completed_s'].values())} s"
                         if kill else ""),
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
