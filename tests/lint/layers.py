#!/usr/bin/env python3
"""The layers the build promises, checked on the source tree:
- imap/, auth/, common/ and fs/mail/ never include a FUSE header, and
  never include a header of a layer above them (fs/ for all, fs/mail/
  for imap/ auth/ common/), but for the two contracts fs/mail/ shares
  with fs/: the options (fs/options.h) and the inode numbers
  (fs/inode.h), data only, which include no project header;
- no include cycle between headers.
Prints each breach and exits 1 if there is one."""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
FUSE = re.compile(r"(^|/)fuse[^/]*\.h$|^fuse3/")
# What each layer may include from the project: its own files and those below.
BELOW = {"common": ("common/",), "imap": ("imap/", "common/"),
         "auth": ("auth/", "imap/", "common/"),
         "fs/mail": ("fs/mail/", "imap/", "auth/", "common/", "fs/options.h", "fs/inode.h")}
CONTRACTS = ("fs/options.h", "fs/inode.h")


def layer_of(rel):
    if rel.startswith("fs/mail/"):
        return "fs/mail"
    top = rel.split("/")[0]
    return top if top in BELOW else None


def sources():
    for top in ("common", "imap", "auth", "fs"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def includes(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as fh:
        return INCLUDE.findall(fh.read())


def layer_breaches(files):
    out = []
    for rel in files:
        layer = layer_of(rel)
        if not layer:
            continue
        for kind, name in includes(rel):
            if FUSE.search(name):
                out.append(f"{rel}: includes FUSE header {name}")
            elif kind == '"' and "/" in name and not name.startswith(BELOW[layer]):
                out.append(f"{rel}: {layer}/ includes {name}, a layer above it")
    return out


def contracts_stand_alone():
    return [f"{c}: a contract header includes {n}" for c in CONTRACTS
            for k, n in includes(c) if k == '"']


def header_cycles(files):
    graph = {rel: [n for k, n in includes(rel) if k == '"' and n in files]
             for rel in files if rel.endswith(".h")}
    out, state = [], {}

    def visit(h, path):
        state[h] = 1
        for n in graph.get(h, []):
            if state.get(n) == 1:
                out.append("include cycle: " + " -> ".join(path[path.index(n):] + [n]))
            elif n not in state:
                visit(n, path + [n])
        state[h] = 2

    for h in sorted(graph):
        if h not in state:
            visit(h, [h])
    return out


def main():
    files = set(sources())
    breaches = layer_breaches(sorted(files)) + contracts_stand_alone() + header_cycles(files)
    for b in breaches:
        print(b)
    print(f"layers: {len(files)} files, {len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
