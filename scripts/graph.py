#!/usr/bin/env python3
"""Checks the import graph: no cycle among the workspace's crates (dev-dependencies included), and
no circle among the top-level modules of any crate (`use crate::a` in b and `use crate::b` in a).
Prints the crate graph; exits 1 on a cycle or a circle. Usage: scripts/graph.py"""
import json, os, re, subprocess, sys

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--no-deps"], text=True))
members = {p["name"]: p for p in meta["packages"]}
edges = {}
for name, p in members.items():
    edges[name] = sorted({d["name"] + (" (dev)" if d["kind"] == "dev" else "")
                          for d in p["dependencies"] if d["name"] in members})
failed = False

def cycle_from(graph, start):
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None

plain = {n: [d.replace(" (dev)", "") for d in ds] for n, ds in edges.items()}
for name in sorted(edges):
    print(f"{name} -> {', '.join(edges[name]) or '-'}")
for name in plain:
    c = cycle_from(plain, name)
    if c:
        print("crate cycle (dev-dependencies included):", " -> ".join(c))
        failed = True
        break

# Module circles: for each crate, the top-level modules each top-level module file imports.
for name, p in members.items():
    lib = next((t["src_path"] for t in p["targets"] if "lib" in t["kind"]), None)
    if not lib:
        continue
    src = os.path.dirname(lib)
    root = open(lib).read()
    mods = re.findall(r"^\s*(?:pub(?:\(crate\))?\s+)?mod\s+(\w+)\s*;", root, re.M)
    # Names the root re-exports, and the module they come from.
    owner = {}
    for m, names in re.findall(r"pub(?:\(crate\))?\s+use\s+(\w+)::\{?([^;]*?)\}?;", root, re.S):
        for n in re.findall(r"\w+", names):
            owner[n] = m
    graph = {}
    for m in mods:
        files = [os.path.join(src, m + ".rs")]
        folder = os.path.join(src, m)
        if os.path.isdir(folder):
            files = [os.path.join(dp, f) for dp, _, fs in os.walk(folder) for f in fs if f.endswith(".rs")]
        text = "".join(open(f).read() for f in files if os.path.exists(f))
        used = set()
        for group in re.findall(r"use\s+crate::(\{[^;]*\}|[\w:]+)", text, re.S):
            for ident in re.findall(r"(?:^|[{,\s])(\w+)", group):
                target = ident if ident in mods else owner.get(ident)
                if target and target != m:
                    used.add(target)
        graph[m] = sorted(used)
    for m in graph:
        c = cycle_from(graph, m)
        if c:
            print(f"module circle in {name}:", " -> ".join(c))
            failed = True
            break
sys.exit(1 if failed else 0)
