#!/usr/bin/env python3
"""Checks the shape of the code, as docs/architecture.md describes it:

1. no import cycles between files: every `use` of a `crate::`, `super::` or `self::` path
   is an edge from the file that writes it to the file that defines the module it names;
   the graph must have no cycle (a parent module's `mod` declarations are not imports);
2. data flows one way: http -> service -> ledger / store -> core; core imports nothing of
   ours outside core; nothing imports http;
3. the HTTP layer holds no role check, no store and no SQL.

Prints what is wrong and exits 1, or prints a summary and exits 0.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# Layer of each top-level module, and which layers it may import.
ALLOWED = {
    "core": {"core"},
    "keys": {"core", "keys"},
    "store": {"core", "store"},
    "ledger": {"core", "store", "keys", "ledger"},
    "service": {"core", "store", "keys", "ledger", "service"},
    "http": {"core", "service", "http"},
    "web": {"core", "service", "web"},
    "cli": {"core", "store", "keys", "ledger", "service", "http", "cli"},
    "lib": set(),
    "main": set(),
}


def module_files():
    """Maps a module path (tuple) to its file."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, ROOT)[:-3].split(os.sep)
            if rel == ["lib"] or rel == ["main"]:
                path = ()
                if rel == ["main"]:
                    continue
            elif rel[-1] == "mod":
                path = tuple(rel[:-1])
            else:
                path = tuple(rel)
            mods[path] = full
    return mods


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # A macro's body is code of the place that uses it, not of the file that defines it.
    out, i = [], 0
    for m in re.finditer(r"macro_rules!\s*\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    # `pub(in crate::x)` names a module to limit visibility; it imports nothing.
    return re.sub(r"pub\(in\s+[^)]*\)", "pub", "".join(out))


def test_ranges(text):
    """Drops `#[cfg(test)] mod … { … }` blocks: tests may import what they test."""
    out = []
    i = 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def use_paths(text):
    """Every path a `use` declaration names, with its braces expanded."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        tree = re.sub(r"\s+as\s+\w+", "", m.group(1))
        paths.extend(expand(re.sub(r"\s+", "", tree)))
    return paths


def expand(tree):
    if "{" not in tree:
        return [tree] if tree else []
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if not p:
            continue
        for e in expand(p):
            out.append(head + e if e != "self" else head.rstrip(":"))
    return out


def resolve(path, here, mods):
    """The file of the deepest module a path names, or None when it is not ours."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    elif here + (segs[0],) in mods:
        # A path relative to the current module (`use change::Change;` names a child).
        base = here
    else:
        return None
    best = None
    for n in range(len(segs) + 1):
        cand = base + tuple(segs[:n])
        if cand in mods:
            best = cand
    return best


def main():
    mods = module_files()
    files_to_mod = {v: k for k, v in mods.items()}
    edges = {}
    problems = []
    for path, f in mods.items():
        text = test_ranges(strip_comments(open(f, encoding="utf-8").read()))
        layer = path[0] if path else "lib"
        targets = set()
        for p in use_paths(text):
            t = resolve(p, path, mods)
            if t is None or t == path:
                continue
            if mods[t] == f:
                continue
            targets.add(t)
            tl = t[0] if t else "lib"
            if tl not in ALLOWED.get(layer, set()):
                problems.append(f"{os.path.relpath(f, ROOT)} imports {p} ({tl} from {layer})")
        # Paths written out in code (`crate::ledger::LedgerError`, `super::links::hash`,
        # `sessions::LoginLimiter` for a child module) are dependencies too.
        children = {m[len(path)] for m in mods if len(m) == len(path) + 1 and m[: len(path)] == path}
        pat = r"(?<![A-Za-z0-9_:])((?:crate|super|self|" + "|".join(sorted(children) or ["_none_"]) + r")(?:::[A-Za-z_][A-Za-z0-9_]*)+)"
        for m in re.finditer(pat, text):
            t = resolve(m.group(1), path, mods)
            if t is not None and t != path and mods[t] != f:
                targets.add(t)
        for m in re.finditer(r"\bcrate::([a-z_]+)", text):
            tl = m.group(1)
            if tl in ALLOWED and tl not in ALLOWED.get(layer, set()) and layer != "lib":
                problems.append(f"{os.path.relpath(f, ROOT)} names crate::{tl} ({tl} from {layer})")
        edges[path] = targets
        if layer == "http":
            for pat, what in [
                (r"\.require\(", "a role check"),
                (r"\bstore::|\bStore\b", "the store"),
                (r"\bsqlx\b", "sqlx"),
                (r"\b(SELECT|INSERT|UPDATE|DELETE)\s", "SQL"),
                (r"\bcrate::ledger\b|\bLedger\b", "the ledger"),
            ]:
                if re.search(pat, text):
                    problems.append(f"{os.path.relpath(f, ROOT)} holds {what}")
    # Cycles (Tarjan).
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    for comp in sccs:
        names = sorted(os.path.relpath(mods[m], ROOT) for m in comp)
        problems.append("import cycle between " + ", ".join(names))
    if problems:
        for p in sorted(set(problems)):
            print(p)
        sys.exit(1)
    n_edges = sum(len(v) for v in edges.values())
    print(f"ok: {len(mods)} files, {n_edges} imports between them, no cycle, layers respected")


if __name__ == "__main__":
    main()
