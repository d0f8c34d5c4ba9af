#!/usr/bin/env python3
"""Every parameter of the incumbent orbs' jobs and commands (tests/orb/incumbents.json, read
from their sources at the commits it names) has a row in docs/migrating.md, and every row names
something that exists: a parameter, job or command of stevedore's packed orb, a flag of the
stevedore helper, or an AWS_/STEVEDORE_ variable; or says why it is not needed. The CodeDeploy
parameters are the one exception, each named below, until issue 14 gives them a home.

Also: the guide's copies of the before/after configs are the files the tests run.

Usage: parity.py PACKED_ORB STEVEDORE_BINARY
"""

import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


def helper_flags(binary):
    """Every long flag of every helper subcommand (from --help, two levels deep)."""
    flags = set()

    def walk(args, depth):
        out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True).stdout
        flags.update(re.findall(r"(--[a-z][a-z0-9-]+)", out))
        if depth < 2 and "Commands:" in out:
            section = out.split("Commands:", 1)[1].split("\n\n", 1)[0]
            for line in section.splitlines():
                name = line.strip().split(" ", 1)[0]
                if name and name != "help":
                    walk([*args, name], depth + 1)

    walk([], 0)
    return flags


def orb_names(packed):
    orb = yaml.safe_load(open(packed, encoding="utf-8"))
    names = set()
    for kind in ("commands", "jobs"):
        for comp, spec in (orb.get(kind) or {}).items():
            names.add(comp)
            names.update((spec.get("parameters") or {}).keys())
    return names


def rows(section):
    """(incumbent names, stevedore tokens, notes) of each table row of a section."""
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        yield re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1]), cells[1], cells[2]


def main():
    packed, binary = sys.argv[1], sys.argv[2]
    incumbents = json.load(open(os.path.join(ROOT, "tests/orb/incumbents.json"), encoding="utf-8"))
    guide = open(os.path.join(ROOT, "docs/migrating.md"), encoding="utf-8").read()
    known, flags = orb_names(packed), helper_flags(binary)
    problems = []
    for orb, spec in incumbents.items():
        short = orb.split("/")[1].replace("-orb", "")
        title = f"## {short} parameters"
        if title not in guide:
            problems.append(f"docs/migrating.md has no section '{title}'")
            continue
        section = guide.split(title, 1)[1].split("\n## ", 1)[0]
        mapped = {}
        for names, tokens, cell, notes in rows(section):
            for t in tokens:
                ok = (t in known or (t.startswith("--") and t in flags)
                      or re.fullmatch(r"(AWS|STEVEDORE)_[A-Z0-9_]+", t))
                if not ok:
                    problems.append(f"{short}: the row of {names} names '{t}', which is not a parameter, job or command of the packed orb, a helper flag or a variable")
            if cell == "—":
                if notes.startswith("not needed:"):
                    pass
                else:
                    problems.append(f"{short}: {names} have no stevedore counterpart and no 'not needed:' reason")
            for n in names:
                mapped[n] = True
        for comp, params in spec["components"].items():
            for p in params:
                if p not in mapped:
                    problems.append(f"{short} {comp}: parameter {p} has no row in docs/migrating.md")
    # The configs shown are the configs tested.
    for m in re.finditer(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```\n", guide, re.S):
        path, shown = m.group(1), m.group(2)
        if open(os.path.join(ROOT, path), encoding="utf-8").read() != shown:
            problems.append(f"docs/migrating.md's copy of {path} differs from the file")
    if len(re.findall(r"<!-- file: ", guide)) != 4:
        problems.append("docs/migrating.md should show the four before/after configs")
    total = sum(len(ps) for o in incumbents.values() for ps in o["components"].values())
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"parity: {total} incumbent parameters of {sum(len(o['components']) for o in incumbents.values())} jobs and commands: each has a home or a reason")


if __name__ == "__main__":
    main()
