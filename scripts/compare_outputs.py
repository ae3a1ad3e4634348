#!/usr/bin/env python3
"""Byte-identity check of two builds' outputs; run it through scripts/compare-outputs.sh.

Outputs carry run ids and timestamps, so each stage of the two builds is run on the same input
with the same ledger facts, and their outputs are compared byte for byte:

1. Extractor: both builds extract the same fixture (DummyJSON of the first build, seed 1, N
   users, 5% bad) into their own staging; `raw.jsonl` must be identical.
2. Transformer: both builds transform the same staged run (the first build's `raw.jsonl`, and
   its ledger record, with `transform_started_at` preset so `transformed_at` is the same);
   `users.jsonl`, `dlq.jsonl` and `raw.masked.jsonl` must be identical.
3. Saver: both builds save the same transformed run (the same three files and ledger record,
   `save_started_at` preset) into a fresh database and an empty SFTP upload folder; the four
   uploaded files must be identical, and so must the database's rows: `raw_users`, `users`,
   `dlq_records` in full, `etl_runs` and `etl_run_events` without the columns that hold the
   wall-clock time of the save's end (`finished_at`, `duration_ms`, `updated_at`, events' `at`).

Prints one line per comparison and exits non-zero on any difference. Standard library only.
"""
from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pipeline import Child, Redis, SFTPServer, http_ok, resp_command, wait_until  # noqa: E402

PRESET_TRANSFORM = "2026-01-01T00:00:00.000Z"
PRESET_SAVE = "2026-01-01T00:01:00.000Z"


def sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Comparison:
    def __init__(self, opts):
        self.opts = opts
        self.work = tempfile.mkdtemp(prefix="compare-outputs-", dir=opts.work_root)
        self.redis = Redis(opts.repo, opts.redis_port, f"{self.work}/redis")
        self.sftp = SFTPServer(opts.repo, opts.sftp_port)
        self.known_hosts = f"{self.work}/known_hosts"
        self.children: list[Child] = []
        self.failures = 0

    def env(self, label: str, data: str) -> dict[str, str]:
        return dict(os.environ, REDIS_URL=self.redis.url, DATA_DIR=data, DB_PATH=f"{self.work}/{label}/database/data.db",
                    DUMMYJSON_URL=f"http://127.0.0.1:{self.opts.fixture_port}/users", PAGE_SIZE="100",
                    SFTP_HOST="127.0.0.1", SFTP_PORT=str(self.opts.sftp_port), SFTP_USER="sftp_user",
                    SFTP_KEY_PATH=f"{self.opts.repo}/ssh_keys/id_ed25519", SFTP_KNOWN_HOSTS=self.known_hosts,
                    SFTP_REMOTE_DIR="upload", RECONCILE_INTERVAL_SECONDS="1", LOG_LEVEL="info")

    def spawn(self, bin_dir: str, name: str, label: str, env: dict, *argv: str) -> Child:
        os.makedirs(f"{self.work}/{label}/logs", exist_ok=True)
        child = Child(name, [f"{bin_dir}/{name}", *argv], env, f"{self.work}/{label}/logs/{name}.log")
        self.children.append(child)
        return child

    def status(self, run: str) -> str:
        return self.redis.cli("HGET", f"etl:run:{run}", "status")

    def seed(self, run: str, fields: dict[str, str], score: str) -> None:
        """A fresh ledger holding exactly this run."""
        self.redis.cli("FLUSHALL")
        args = ["HSET", f"etl:run:{run}"]
        for k, v in fields.items():
            args += [k, v]
        resp_command(self.opts.redis_port, args)
        resp_command(self.opts.redis_port, ["ZADD", "etl:runs", score, run])

    def same(self, what: str, a: str, b: str) -> None:
        equal = filecmp.cmp(a, b, shallow=False)
        self.failures += 0 if equal else 1
        print(f"{'identical' if equal else 'DIFFERENT'}  {what}  ({os.path.getsize(a):,} B, sha256 {sha(a)[:16]}…"
              + ("" if equal else f" vs {os.path.getsize(b):,} B, sha256 {sha(b)[:16]}…") + ")", flush=True)

    # 1. Extractor

    def extract(self, label: str, bin_dir: str) -> tuple[str, dict[str, str], str]:
        self.redis.cli("FLUSHALL")
        data = f"{self.work}/{label}/extract"
        child = self.spawn(bin_dir, "Extractor", f"{label}", self.env(label, data), "--once")
        wait_until(f"{label} extraction", child.poll, self.opts.timeout, 0.05)
        if child.status != 0:
            raise RuntimeError(f"{label} Extractor exited with {child.status}")
        run = self.redis.cli("ZRANGE", "etl:runs", "0", "-1").split()[-1]
        score = resp_command(self.opts.redis_port, ["ZSCORE", "etl:runs", run])
        return run, self.redis.hash(f"etl:run:{run}"), str(score)

    # 2. Transformer

    def transform(self, label: str, bin_dir: str, run: str, fields: dict, score: str, raw: str) -> str:
        data = f"{self.work}/{label}/transform"
        os.makedirs(f"{data}/runs/{run}")
        shutil.copyfile(raw, f"{data}/runs/{run}/raw.jsonl")
        self.seed(run, {**fields, "transform_started_at": PRESET_TRANSFORM}, score)
        child = self.spawn(bin_dir, "Transformer", label, self.env(label, data))
        wait_until(f"{label} transform", lambda: self.status(run) in ("transformed", "failed"), self.opts.timeout, 0.05, [child])
        child.stop()
        if self.status(run) != "transformed":
            raise RuntimeError(f"{label} transform failed: {self.redis.cli('HGET', f'etl:run:{run}', 'error')}")
        return f"{data}/runs/{run}"

    # 3. Saver

    def save(self, label: str, bin_dir: str, run: str, fields: dict, score: str, transformed: str) -> tuple[str, str]:
        data = f"{self.work}/{label}/save"
        os.makedirs(f"{data}/runs/{run}")
        for name in ("users.jsonl", "dlq.jsonl", "raw.masked.jsonl"):
            shutil.copyfile(f"{transformed}/{name}", f"{data}/runs/{run}/{name}")
        self.seed(run, {**fields, "save_started_at": PRESET_SAVE}, score)
        self.sftp.clear()
        child = self.spawn(bin_dir, "Saver", label, self.env(label, data))
        wait_until(f"{label} save", lambda: self.status(run) in ("completed", "failed"), self.opts.timeout, 0.05, [child])
        child.stop()
        if self.status(run) != "completed":
            raise RuntimeError(f"{label} save failed: {self.redis.cli('HGET', f'etl:run:{run}', 'error')}")
        uploads = f"{self.work}/{label}/uploads"
        shutil.copytree(self.sftp.upload, uploads)
        return uploads, f"{self.work}/{label}/database/data.db"

    def dump(self, db: str, out: str) -> str:
        """The rows that must match, as text, in a stable order."""
        queries = {
            "raw_users": "SELECT * FROM raw_users ORDER BY run_id, line",
            "users": "SELECT * FROM users ORDER BY id",
            "dlq_records": "SELECT * FROM dlq_records ORDER BY run_id, line",
            "etl_runs": "SELECT run_id, status, failed_phase, error, started_at, extracted, valid, invalid, loaded, "
                        "unknown_department, staged_files, remote_files FROM etl_runs ORDER BY run_id",
            "etl_run_events": "SELECT run_id, stage, event, detail FROM etl_run_events ORDER BY id",
        }
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        with open(out, "w", encoding="utf-8") as f:
            for table, sql in queries.items():
                for row in con.execute(sql):
                    f.write(f"{table}\t{row!r}\n")
        con.close()
        return out

    def run(self) -> int:
        o = self.opts
        self.redis.start()
        self.sftp.start(self.known_hosts)
        fixture = self.spawn(o.base, "DummyJSON", "fixture", dict(os.environ), "--host", "127.0.0.1", "--port",
                             str(o.fixture_port), "--users", str(o.users), "--bad-fraction", "0.05")
        wait_until("the fixture", lambda: http_ok(f"http://127.0.0.1:{o.fixture_port}/health"), 60, 0.05, [fixture])
        print(f"comparing {o.base} (A) with {o.new} (B) at {o.users:,} users; work in {self.work}", flush=True)

        run_a, fields, score = self.extract("A", o.base)
        run_b, _, _ = self.extract("B", o.new)
        raw_a = f"{self.work}/A/extract/runs/{run_a}/raw.jsonl"
        self.same("raw.jsonl (Extractor)", raw_a, f"{self.work}/B/extract/runs/{run_b}/raw.jsonl")

        # The same staged run for both transformers: A's file and ledger record.
        t_a = self.transform("A", o.base, run_a, fields, score, raw_a)
        transformed = self.redis.hash(f"etl:run:{run_a}")
        t_b = self.transform("B", o.new, run_a, fields, score, raw_a)
        for name in ("users.jsonl", "dlq.jsonl", "raw.masked.jsonl"):
            self.same(f"{name} (Transformer)", f"{t_a}/{name}", f"{t_b}/{name}")

        up_a, db_a = self.save("A", o.base, run_a, transformed, score, t_a)
        up_b, db_b = self.save("B", o.new, run_a, transformed, score, t_a)
        for name in sorted(os.listdir(up_a)):
            self.same(f"uploaded {name} (Saver)", f"{up_a}/{name}", f"{up_b}/{name}")
        if sorted(os.listdir(up_a)) != sorted(os.listdir(up_b)):
            self.failures += 1
            print(f"DIFFERENT  uploaded file names: {sorted(os.listdir(up_a))} vs {sorted(os.listdir(up_b))}")
        self.same("database rows (Saver)", self.dump(db_a, f"{self.work}/A/rows.txt"), self.dump(db_b, f"{self.work}/B/rows.txt"))
        print("RESULT " + ("all outputs identical" if self.failures == 0 else f"{self.failures} difference(s)"), flush=True)
        return 0 if self.failures == 0 else 1

    def close(self) -> None:
        for child in reversed(self.children):
            try:
                child.stop(5)
            except Exception as e:
                print(f"warning: stopping {child.name}: {e}", file=sys.stderr)
        self.redis.stop()
        self.sftp.stop()
        if self.opts.keep:
            print(f"kept {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--base", required=True, help="the first build's executables (A)")
    p.add_argument("--new", required=True, help="the second build's executables (B)")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = p.parse_args()
    opts.base, opts.new = os.path.abspath(opts.base), os.path.abspath(opts.new)
    opts.redis_port = int(os.environ.get("COMPARE_REDIS_PORT", 16481))
    opts.sftp_port = int(os.environ.get("BENCH_SFTP_PORT", 12240))
    opts.fixture_port = int(os.environ.get("COMPARE_FIXTURE_PORT", 18392))
    opts.work_root = os.environ.get("BENCH_WORK_ROOT", "/tmp")
    comparison = Comparison(opts)
    try:
        return comparison.run()
    finally:
        comparison.close()


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)
