#!/usr/bin/env python3
"""Parses HTML files with html5lib's strict parser (the WHATWG parsing algorithm, failing on the
first parse error) and reports every file that does not parse cleanly.

    scripts/check-html.py FILE...        # exit 0 when every file parses with no error

Run it with the Python of the virtual environment scripts/install-deps.sh makes
(.run/html-venv/bin/python), which has html5lib. The dashboard's tests call it on every page.
"""
import sys

import html5lib
from html5lib.constants import E


def check(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        parser.parse(text)
    except html5lib.html5parser.ParseError:
        pass
    problems = []
    for (line, column), code, data in parser.errors:
        message = E.get(code, code)
        try:
            message = message % data
        except (TypeError, KeyError, ValueError):
            pass
        problems.append(f"{path}:{line}:{column}: {message}")
    return problems


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems = [p for path in paths for p in check(path)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"check-html: {len(paths)} files parse with no error")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
