#!/usr/bin/env python3
"""Whole-pipeline byte-identity check of two builds; run it through scripts/compare-outputs.sh.

Each side — A (`--base`) and B (`--new`) — ran the whole pipeline once by
scripts/bench-pipeline.sh, which kept the run (`--keep`); the two outcomes are compared byte for
byte after normalising ONLY these values, each side with its own run id:

1. the run id: every occurrence, in file names, file lines and column values → `<run_id>`;
2. timestamps: a JSON member whose key ends in `_at` with an ISO 8601 value
   (`"extracted_at":"2026-…Z"` → `"extracted_at":"<at>"`), in file lines and in column values
   (the payloads); and every non-NULL column whose name ends in `_at` → `<at>`;
3. what changes because of 1–2: in the manifest's `files` and in `etl_runs.remote_files`, each
   entry's `sha256` and `bytes` are first checked against the uploaded file they name (a mismatch
   is a difference), then replaced by the SHA-256 and size of that file after normalisation;
4. the per-run secret: `"hmac_sha256":"…"` of a line that is not a JSON object (keyed by the run's
   random `line_digest_key`) → `<hmac>`, and `"record_hash":"…"` on a line holding such a
   placeholder (`"rejected_line"`) → `<record_hash>`. The standard fixture has no such lines.

Compared, each as normalised text, line by line:
- the uploaded `<run_id>_raw.jsonl`, `_users.jsonl`, `_dlq.jsonl` and `_manifest.json` (and the
  set of uploaded names);
- SQLite `raw_users` (by run_id, line), `users` (by id), `dlq_records` (by run_id, line): every
  column, by name, one line per row;
- `etl_runs`: status, failed_phase, error, extracted, valid, invalid, loaded, unknown_department,
  remote_files;
- DLQ reasons and line numbers: the (line, field/rule …) list of `dlq_records`, with a count per rule.
Not compared: `etl_runs.started_at/finished_at/duration_ms/updated_at/staged_files` (times, and
staging paths that a chunked build lays out differently) and `etl_run_events`.

Prints one line per comparison — and for a difference the first differing line of each side —
and exits 1 on any difference. Standard library only.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import sqlite3
import sys

TIMESTAMP = re.compile(r'"([^"\\]*_at)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"')
HMAC = re.compile(r'"hmac_sha256":"[0-9a-f]{64}"')
RECORD_HASH = re.compile(r'"record_hash":"[0-9a-f]{64}"')
FLAT_OBJECT = re.compile(r"\{[^{}]*\}")
UPLOADS = ("raw.jsonl", "users.jsonl", "dlq.jsonl", "manifest.json")
TABLES = {"raw_users": "run_id, line", "users": "id", "dlq_records": "run_id, line"}
RUN_COLUMNS = ("status", "failed_phase", "error", "extracted", "valid", "invalid", "loaded", "unknown_department",
               "remote_files")


class Side:
    """One build's finished run: its uploads, its database and how to normalise what it wrote."""

    def __init__(self, label: str, work: str, run_id: str, db: str):
        self.label, self.work, self.run_id, self.db = label, work, run_id, db
        self.upload = f"{work}/upload"
        self.counts: collections.Counter = collections.Counter()
        # uploaded file name → (sha256, bytes) as uploaded, and after normalisation
        self.files: dict[str, dict] = {}

    def text(self, s: str) -> str:
        """Normalisations 1, 2 and 4 (module docstring) of one line or value."""
        if self.run_id in s:
            self.counts["run id"] += s.count(self.run_id)
            s = s.replace(self.run_id, "<run_id>")
        s, n = TIMESTAMP.subn(r'"\1":"<at>"', s)
        self.counts["*_at"] += n
        if '"hmac_sha256"' in s:
            s, n = HMAC.subn('"hmac_sha256":"<hmac>"', s)
            self.counts["hmac"] += n
            if '"rejected_line"' in s:
                s, n = RECORD_HASH.subn('"record_hash":"<record_hash>"', s)
                self.counts["record_hash"] += n
        return s

    def file_entries(self, s: str) -> str:
        """Normalisation 3: file entries whose sha256 is an uploaded file's get that file's
        normalised sha256 and size, once both were checked against the file."""
        def entry(m: re.Match) -> str:
            obj = m.group(0)
            for name, f in self.files.items():
                shown = name.replace(self.run_id, "<run_id>")  # the entry's text is normalised already
                if f'"{shown}"' in obj or f'/{shown}"' in obj:
                    sha = re.search(r'"sha256":"([0-9a-f]{64})"', obj)
                    size = re.search(r'"bytes":(\d+)', obj)
                    if not sha or sha.group(1) != f["sha256"] or not size or int(size.group(1)) != f["bytes"]:
                        return obj + f" <does not match the uploaded {name}: sha256 {f['sha256'][:16]}…, {f['bytes']} B>"
                    self.counts["file sha256/bytes"] += 1
                    obj = obj.replace(sha.group(0), f'"sha256":"<normalised {f["normalised_sha256"]}>"')
                    return obj.replace(size.group(0), f'"bytes":<normalised {f["normalised_bytes"]}>')
            return obj
        return FLAT_OBJECT.sub(entry, s)

    def upload_name(self, kind: str) -> str:
        return f"{self.run_id}_{kind}"

    def lines(self, kind: str):
        """The uploaded file's lines, normalised; records its hashes as uploaded and normalised."""
        name = self.upload_name(kind)
        raw, normal = hashlib.sha256(), hashlib.sha256()
        size = normal_size = 0
        with open(f"{self.upload}/{name}", "rb") as f:
            for line in f:
                raw.update(line)
                size += len(line)
                text = line.decode("utf-8", "surrogateescape")
                out = self.text(text)
                if kind == "manifest.json":
                    out = self.file_entries(out)
                data = out.encode("utf-8", "surrogateescape")
                normal.update(data)
                normal_size += len(data)
                yield out.rstrip("\n")
        self.files[name] = {"sha256": raw.hexdigest(), "bytes": size,
                            "normalised_sha256": normal.hexdigest(), "normalised_bytes": normal_size}

    def rows(self, table: str, order: str):
        """Every row of a table, one line of `column=value` pairs, normalised."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            cursor = con.execute(f"SELECT * FROM {table} ORDER BY {order}")
            names = [d[0] for d in cursor.description]
            for row in cursor:
                cells = []
                for name, value in zip(names, row):
                    if name.endswith("_at") and value is not None:
                        value = "<at>"
                        self.counts["*_at"] += 1
                    elif isinstance(value, str):
                        value = self.text(value)
                    cells.append(f"{name}={value!r}")
                yield "\t".join(cells)
        finally:
            con.close()

    def run_row(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        try:
            for row in con.execute("SELECT * FROM etl_runs ORDER BY run_id"):
                cells = []
                for name in RUN_COLUMNS:
                    value = row[name] if name in row.keys() else "<no such column>"
                    if isinstance(value, str):
                        value = self.file_entries(self.text(value))
                    cells.append(f"{name}={value!r}")
                yield "\t".join(cells)
        finally:
            con.close()

    def dlq_reasons(self, by_rule: collections.Counter):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            for line, reasons in con.execute("SELECT line, reasons FROM dlq_records ORDER BY run_id, line"):
                rules = [f"{r.get('field')}/{r.get('rule')}" for r in json.loads(reasons)]
                by_rule.update(rules)
                yield f"line {line}: {' '.join(rules)}"
        finally:
            con.close()


def excerpt(a: str, b: str, width: int = 200) -> tuple[str, str]:
    """The two lines around their first differing character, after the line's start (a table
    row's key, a JSON line's first members) when the difference is further in."""
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    start = max(0, at - 60)
    head = 50 if start > 50 else 0
    cut = lambda s: ((s[:head] + " … ") if head else s[:start]) + s[start:start + width] + ("…" if len(s) > start + width else "")
    return cut(a), cut(b)


def lines(n: int) -> str:
    return f"{n:,} line" + ("" if n == 1 else "s")


class Outcomes:
    """Compares two finished runs' outcomes (`Side`s) line by line: one line per comparison on
    `out`, and for a difference the first differing line of each side."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.failures = 0
        self.different: list[str] = []  # what differed, one entry per failed comparison

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def compare(self, what: str, a_lines, b_lines, a: Side, b: Side) -> None:
        """Line by line; prints the first differing line of each side."""
        before = (a.counts.copy(), b.counts.copy())
        n_a = n_b = differ = 0
        first = None
        sentinel = object()
        a_iter, b_iter = iter(a_lines), iter(b_lines)
        while True:
            x, y = next(a_iter, sentinel), next(b_iter, sentinel)
            if x is sentinel and y is sentinel:
                break
            n_a += x is not sentinel
            n_b += y is not sentinel
            if x != y:
                differ += 1
                if first is None:
                    first = (max(n_a, n_b), "<no line>" if x is sentinel else x, "<no line>" if y is sentinel else y)
        normalised = a.counts - before[0]
        note = ", ".join(f"{k} ×{v:,}" for k, v in sorted(normalised.items()))
        if first is None:
            self.say(f"identical  {what}  ({lines(n_a)}{'; normalised ' + note if note else ''})")
            return
        self.failures += 1
        self.different.append(what)
        la, lb = excerpt(first[1], first[2])
        self.say(f"DIFFERENT  {what}  ({n_a:,} vs {lines(n_b)}, {differ:,} differ); first at line {first[0]:,}:\n"
                 f"    {a.label}: {la}\n    {b.label}: {lb}")

    def all(self, a: Side, b: Side) -> int:
        """Every comparison of the module docstring; returns the number of differences."""
        names = lambda s: sorted(n.replace(s.run_id, "<run_id>") for n in os.listdir(s.upload))
        if names(a) != names(b):
            self.failures += 1
            self.different.append("uploaded file names")
            self.say(f"DIFFERENT  uploaded file names: {names(a)} vs {names(b)}")
        for kind in UPLOADS:
            if all(os.path.exists(f"{s.upload}/{s.upload_name(kind)}") for s in (a, b)):
                self.compare(f"uploaded <run_id>_{kind}", a.lines(kind), b.lines(kind), a, b)
        for table, order in TABLES.items():
            self.compare(f"table {table} (by {order})", a.rows(table, order), b.rows(table, order), a, b)
        self.compare("table etl_runs (status, counts, remote_files)", a.run_row(), b.run_row(), a, b)
        rules_a, rules_b = collections.Counter(), collections.Counter()
        self.compare("DLQ reasons and line numbers", a.dlq_reasons(rules_a), b.dlq_reasons(rules_b), a, b)
        for side, rules in ((a, rules_a), (b, rules_b)):
            self.say(f"    {side.label}: {sum(rules.values()):,} reasons: "
                     + ", ".join(f"{k} {v:,}" for k, v in sorted(rules.items())))
        self.say("RESULT " + ("all outputs identical" if self.failures == 0 else f"{self.failures} difference(s)"))
        return self.failures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="side A: a run kept by scripts/bench-pipeline.sh --keep (upload/, database/data.db)")
    p.add_argument("b", help="side B: the same")
    opts = p.parse_args()
    sides = []
    for label, work in (("A", opts.a), ("B", opts.b)):
        manifests = [n for n in os.listdir(f"{work}/upload") if n.endswith("_manifest.json")]
        if len(manifests) != 1:
            p.error(f"{work}/upload: expected one manifest, found {manifests}")
        sides.append(Side(label, work, manifests[0][: -len("_manifest.json")], f"{work}/database/data.db"))
    return 0 if Outcomes().all(*sides) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
