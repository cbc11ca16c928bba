#!/usr/bin/env python3
"""Reads a listing printed by rabbitmqadmin on standard input and answers one question about it.

  rows.py json|md [--where KEY=VALUE]... [--get FIELD | --count | --dump]

`json` is v1's `-f raw_json` output (a JSON list, or one object); `md` is v2's
`--table-style markdown` table (a header row, a `|---|` row, then rows; a cell that spans
several lines continues on rows whose first two cells are empty). Every value is compared
as text: JSON booleans as `true`/`false`, integral numbers without a fraction, nested
objects as compact JSON. A KEY may be dotted (`client_properties.connection_name`) for
`json` input.

Without an option: exit 0 when some row matches every --where, 1 otherwise.
--get FIELD: print FIELD of the first matching row (exit 1 when no row matches).
--count: print how many rows match.
--dump: print the matching rows as JSON (for failure messages).
"""
import json
import sys


def text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    if v is None:
        return ""
    return str(v)


def lookup(row, key):
    if key in row:
        return row[key]
    cur = row
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def parse_json(src):
    src = src.strip()
    if not src:
        return []
    doc = json.loads(src)
    return doc if isinstance(doc, list) else [doc]


def parse_md(src):
    lines = [l.strip() for l in src.splitlines() if l.strip().startswith("|")]
    if not lines:
        return []
    cells = lambda l: [c.strip() for c in l.strip().strip("|").split("|")]
    header = cells(lines[0])
    rows = []
    for l in lines[1:]:
        c = cells(l)
        if all(set(x) <= set("-: ") for x in c):
            continue
        if rows and len(c) >= 2 and c[0] == "" and c[1] == "":
            for i, x in enumerate(c[: len(header)]):
                if x:
                    prev = rows[-1][header[i]]
                    rows[-1][header[i]] = (prev + "\n" + x) if prev else x
            continue
        rows.append(dict(zip(header, c + [""] * (len(header) - len(c)))))
    return rows


def main(argv):
    if not argv or argv[0] not in ("json", "md"):
        sys.exit(__doc__)
    fmt, args = argv[0], argv[1:]
    where, mode, field = [], "exists", None
    i = 0
    while i < len(args):
        if args[i] == "--where":
            k, _, v = args[i + 1].partition("=")
            where.append((k, v))
            i += 2
        elif args[i] == "--get":
            mode, field = "get", args[i + 1]
            i += 2
        elif args[i] in ("--count", "--dump"):
            mode = args[i][2:]
            i += 1
        else:
            sys.exit("rows.py: unknown argument %r" % args[i])
    src = sys.stdin.read()
    try:
        rows = parse_json(src) if fmt == "json" else parse_md(src)
    except ValueError as e:
        sys.exit("rows.py: cannot parse %s input (%s): %r" % (fmt, e, src[:500]))
    hits = [r for r in rows if all(text(lookup(r, k)) == v for k, v in where)]
    if mode == "count":
        print(len(hits))
    elif mode == "dump":
        print(json.dumps(hits, indent=1, sort_keys=True))
    elif mode == "get":
        if not hits:
            sys.exit(1)
        print(text(lookup(hits[0], field)))
    else:
        sys.exit(0 if hits else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
