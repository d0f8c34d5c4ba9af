"""The house rules, checked on every `make lint`; exits 1 and names each break.

Sizes: no Rust file in src/, crates/*/src/ or sandbox/src/ over 600 lines, no function over 120 lines (with
--near, also what is within 15% of a limit). Functions are found by their `fn` line and matched
braces, with string and character literals and comments skipped.

Layers: the bottom ones are crates (crates/base, crates/aws), so Cargo refuses an import upward
from them; in src/ (and the crates):
- no module imports a macro from the crate root (`usage!` lives in error.rs; no #[macro_export]);
- a clap argument struct (`…Args`) is read only where arguments enter: in cli/ and dispatch.rs,
  in a command's `run…` function and in a `…from_args` constructor; planning and execution
  functions take plain types.

Import circles (scripts/import_circles.py) may only shrink: the modules caught in one, per crate,
are at most what CIRCLED says (lower it when a restructuring breaks one; never raise it)."""

import os
import re
import sys

MAX_FILE, MAX_FN = 600, 120
# Modules inside import circles, counted on 2026-12-07: src has none since the deploy folder's
# children stopped importing its mod.rs (outcome, plan::say, calls, probe, codedeploy_settings);
# the sandbox keeps one circle round app/server and one round ecs.
CIRCLED = {"src": 0, "crates/base/src": 0, "crates/aws/src": 0, "sandbox/src": 26}
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code_braces(line, state):
    """Net brace count of a line outside strings, chars and comments; state carries raw/block strings."""
    depth, i, n = 0, 0, len(line)
    while i < n:
        if state["in_str"]:
            if state["raw"] is not None:
                end = '"' + "#" * state["raw"]
                j = line.find(end, i)
                if j < 0:
                    return depth
                i, state["in_str"], state["raw"] = j + len(end), False, None
                continue
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                state["in_str"] = False
            i += 1
            continue
        if state["block"]:
            j = line.find("*/", i)
            if j < 0:
                return depth
            i, state["block"] = j + 2, False
            continue
        c = line[i]
        if line.startswith("//", i):
            return depth
        if line.startswith("/*", i):
            state["block"] = True
            i += 2
            continue
        m = re.match(r'r(#*)"', line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["in_str"], state["raw"] = True, len(m.group(1))
            i += len(m.group(0))
            continue
        if c == '"':
            state["in_str"], state["raw"] = True, None
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
            continue
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return depth


def functions(lines):
    """(name, first line, length) of every fn with a body."""
    out = []
    for start, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        state = {"in_str": False, "raw": None, "block": False}
        depth, opened = 0, False
        for end in range(start, len(lines)):
            d = code_braces(lines[end], state)
            if d > 0 or "{" in lines[end].split("//")[0]:
                opened = True
            depth += d
            if ";" in lines[end] and not opened and depth == 0:
                break  # a declaration without a body
            if opened and depth <= 0:
                out.append((m.group(6), start + 1, end - start + 1))
                break
    return out


ARGS_PARAM = re.compile(r"\b(\w+)\s*:\s*&?(mut\s+)?(crate::cli::)?([A-Z]\w*Args)\b")


def layers(path, text):
    out = []
    rel = path.replace(os.sep, "/")
    if re.search(r"use crate::usage\b|crate::usage!|#\[macro_export\]", text):
        out.append(f"{rel}: a macro from the crate root (import crate::error::usage)")
    if rel.startswith("src/cli/") or rel == "src/dispatch.rs":
        return out
    lines = text.split("\n")
    for name, first, length in functions(lines):
        sig = " ".join(lines[first - 1:first + 8]).split("{")[0]
        for m in ARGS_PARAM.finditer(sig):
            kind = m.group(4)
            if name.startswith("run") or name.endswith("from_args"):
                continue
            out.append(f"{rel}:{first}: fn {name} takes {kind}: give it plain values (or build a plan with from_args)")
    for m in re.finditer(r"^\s*(pub(\([^)]*\))?\s+)?\w+\s*:\s*([A-Z]\w*Args)\s*,", text, re.M):
        out.append(f"{rel}: a struct holds {m.group(3)}: hold the plain values it needs")
    return out


def main():
    near = "--near" in sys.argv
    bad = []
    crates = sorted(os.path.join("crates", c, "src") for c in os.listdir("crates"))
    for root in ["src", *crates, "sandbox/src"]:
        for d, _, files in os.walk(root):
            for f in sorted(files):
                if not f.endswith(".rs"):
                    continue
                path = os.path.join(d, f)
                text = open(path, encoding="utf-8").read()
                lines = text.split("\n")
                if root != "sandbox/src":
                    bad.extend(layers(path, text))
                n = len(lines) - (1 if lines[-1] == "" else 0)
                if n > MAX_FILE:
                    bad.append(f"{path}: {n} lines (limit {MAX_FILE})")
                elif near and n > MAX_FILE * 0.85:
                    print(f"near: {path}: {n} lines")
                for name, first, length in functions(lines):
                    if length > MAX_FN:
                        bad.append(f"{path}:{first}: fn {name} is {length} lines (limit {MAX_FN})")
                    elif near and length > MAX_FN * 0.85:
                        print(f"near: {path}:{first}: fn {name} is {length} lines")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import import_circles

    for root, most in CIRCLED.items():
        found = import_circles.circles(root)
        n = sum(len(c) for c in found)
        if n > most:
            bad.append(f"{root}: {n} modules in import circles (at most {most}): "
                       + "; ".join(", ".join(c) for c in found))
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print(f"house rules: every file in src/, crates/*/src/ and sandbox/src/ is at most {MAX_FILE} lines, every function at most {MAX_FN};"
          f" no crate-root macro, clap arguments only where they enter;"
          f" import circles no larger than {CIRCLED}")


if __name__ == "__main__":
    main()
