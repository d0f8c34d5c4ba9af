#!/usr/bin/env python3
"""The orb's tooling, offline (the CircleCI CLI cannot be installed here, and its validate needs
the network):

  pack    write the single orb.yml as `circleci orb pack` does: @orb.yml merged with commands/,
          executors/, jobs/ and examples/ (file name -> key), and every string that is exactly
          <<include(path)>> replaced by that file; the release version and SHA256SUMS are filled
          into the @@STEVEDORE_VERSION@@ / @@STEVEDORE_SHA256SUMS@@ placeholders.
  review  orb-tools' review rules (RC002, RC005, RC006, RC007, RC008, RC009, RC010), parameters
          used and declared both ways, no eval and no << in scripts, references to commands and
          executors that exist, and RC104 (a step that waits outlasts CircleCI's no-output limit).
  review-config FILE...
          the rules for a CircleCI configuration that schema validation passes and a real run
          fails on (RC101-RC105: scripts/review_config.py says which).

  inline  a CircleCI config with the packed orb in place of its `stevedore` orb reference, as
          orb-tools' continue job injects an orb, so a pipeline tests an orb never published.

Running a job of the packed orb is the tests' business: tests/orb/circleci_job.py.
"""

import argparse
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_config  # noqa: E402

FOLDERS = ["commands", "executors", "jobs", "examples"]
INCLUDE = re.compile(r"^\s*<<\s*include\(([^)]+)\)\s*>>\s*$")
PARAM = re.compile(r"<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
BUILTIN_STEPS = {
    "checkout",
    "setup_remote_docker",
    "restore_cache",
    "save_cache",
    "run",
    "when",
    "unless",
    "store_artifacts",
    "store_test_results",
    "persist_to_workspace",
    "attach_workspace",
    "add_ssh_keys",
}


class LiteralDumper(yaml.SafeDumper):
    """Scripts as literal blocks, prose folded at the dump width, sequences indented."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str_representer(dumper, value):
    body = value.rstrip("\n")
    if "\n" in body:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value.endswith("\n") or len(value) > 80:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


LiteralDumper.add_representer(str, _str_representer)


def die(msg, code=2):
    print(f"orbtool: {msg}", file=sys.stderr)
    sys.exit(code)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def source_tree(src):
    """The orb's source as one document, includes not yet resolved."""
    orb = load(os.path.join(src, "@orb.yml")) or {}
    for folder in FOLDERS:
        d = os.path.join(src, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".yml", ".yaml")):
                orb.setdefault(folder, {})[os.path.splitext(name)[0]] = load(os.path.join(d, name))
    return orb


def resolve(node, src, fill):
    if isinstance(node, dict):
        return {k: resolve(v, src, fill) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, src, fill) for v in node]
    if isinstance(node, str):
        m = INCLUDE.match(node)
        if m:
            with open(os.path.join(src, m.group(1).strip()), encoding="utf-8") as f:
                node = f.read()
        return fill(node)
    return node


SEMVER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def pack(args):
    version = args.version
    if version is not None and not SEMVER.match(version):
        die(f"--version {version!r} is not a semantic version (X.Y.Z): read it with scripts/version.sh")
    version = version or ""
    sums = ""
    if args.checksums:
        try:
            with open(args.checksums, encoding="utf-8") as f:
                sums = f.read().strip()
        except OSError as e:
            die(f"--checksums {args.checksums}: {e.strerror}: run `make dist` first")
        if not sums:
            die(f"--checksums {args.checksums} lists no archive: run `make dist` again")
        for line in sums.splitlines():
            if not re.match(r"^[0-9a-f]{64}  \*?stevedore-[A-Za-z0-9_.-]+\.tar\.gz$", line):
                die(f"{args.checksums}: not a SHA256SUMS line: {line!r}")
    if sums and not version:
        die("--checksums needs --version")

    def fill(s):
        if version:
            s = s.replace("@@STEVEDORE_VERSION@@", version)
        if sums:
            s = s.replace("@@STEVEDORE_SHA256SUMS@@", sums)
        return s

    orb = resolve(source_tree(args.src), args.src, fill)
    text = yaml.dump(orb, Dumper=LiteralDumper, sort_keys=False, width=96, allow_unicode=True)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"packed {args.output} (version {version or 'unset'}, {len(sums.splitlines())} checksums)")


def walk_steps(steps):
    """Every step, descending into when/unless."""
    for step in steps or []:
        yield step
        if isinstance(step, dict):
            for key in ("when", "unless"):
                if key in step:
                    yield from walk_steps(step[key].get("steps"))


def review(args):
    src = args.src
    orb = source_tree(src)
    problems = []
    desc = orb.get("description") or ""
    if len(desc.strip()) < 64:
        problems.append("RC005: the orb's description must be 64 characters or more")
    for code, key in (("RC006", "source_url"), ("RC007", "home_url")):
        url = (orb.get("display") or {}).get(key) or ""
        if not url.startswith("https://"):
            problems.append(f"{code}: display.{key} must be an https URL, so the registry links to the orb's {key[:-4]}")
    commands = orb.get("commands") or {}
    executors = orb.get("executors") or {}
    for folder in ("commands", "jobs", "executors"):
        for name, comp in (orb.get(folder) or {}).items():
            where = f"{folder}/{name}"
            if not SNAKE.match(name):
                problems.append(f"RC010: {where}: the name is not snake_case")
            if not (comp.get("description") or "").strip():
                problems.append(f"RC002: {where} has no description")
            params = comp.get("parameters") or {}
            for p, spec in params.items():
                if not SNAKE.match(p):
                    problems.append(f"RC010: {where}: parameter {p} is not snake_case")
                if not (spec or {}).get("description"):
                    problems.append(f"RC002: {where}: parameter {p} has no description")
            body = {k: v for k, v in comp.items() if k != "parameters"}
            used = set(PARAM.findall(yaml.dump(body)))
            for p in sorted(used - set(params)):
                problems.append(f"{where} uses << parameters.{p} >> but does not declare it")
            for p in sorted(set(params) - used):
                problems.append(f"{where} declares parameter {p} but never uses it")
            for step in walk_steps(comp.get("steps")):
                name_of = step if isinstance(step, str) else next(iter(step))
                if name_of not in BUILTIN_STEPS and name_of not in commands:
                    problems.append(f"{where}: step {name_of} is neither a built-in step nor a command of the orb")
                if name_of != "run":
                    continue
                run = step["run"]
                if isinstance(run, str) or not run.get("name"):
                    problems.append(f"RC008: {where}: a run step has no name")
                    continue
                problems += review_config.orb_wait_problems(where, run, params)
                cmd = run.get("command", "")
                m = INCLUDE.match(cmd)
                if not m:
                    problems.append(f"RC009: {where}: run step '{run['name']}' should <<include(scripts/...)>> its command")
                    continue
                script_path = os.path.join(src, m.group(1).strip())
                if not os.path.isfile(script_path):
                    problems.append(f"{where}: {m.group(1)} does not exist")
                    continue
                with open(script_path, encoding="utf-8") as f:
                    script = f.read()
                if "<<" in script:
                    problems.append(f"{m.group(1)}: contains '<<', which CircleCI reads as parameter syntax")
                if re.search(r"(^|[;&|\s])eval\s", script):
                    problems.append(f"{m.group(1)}: uses eval")
                for var, value in (run.get("environment") or {}).items():
                    if not var.startswith("STEVEDORE_"):
                        problems.append(f"{where}: environment {var} should be a STEVEDORE_* variable")
            if folder == "jobs":
                ex = comp.get("executor")
                if isinstance(ex, str) and PARAM.search(ex):
                    default = (params.get(PARAM.search(ex).group(1)) or {}).get("default")
                    if default not in executors:
                        problems.append(f"{where}: default executor {default} is not an executor of the orb")
    for name, ex in (orb.get("examples") or {}).items():
        if not SNAKE.match(name):
            problems.append(f"RC010: examples/{name}: the name is not snake_case")
        if not (ex.get("description") or "").strip() or "usage" not in ex:
            problems.append(f"examples/{name} needs a description and a usage")
    scripts_dir = os.path.join(src, "scripts")
    included = set(re.findall(r"<<include\((scripts/[^)]+)\)>>", yaml.dump(orb, width=1000)))
    for name in sorted(os.listdir(scripts_dir)):
        if f"scripts/{name}" not in included:
            problems.append(f"scripts/{name} is not included by any command")
    for p in problems:
        print(p)
    if problems:
        die(f"{len(problems)} review problem(s)", 1)
    print(f"review: {len(commands)} commands, {len(orb.get('jobs') or {})} jobs, {len(executors)} executors, {len(orb.get('examples') or {})} examples: clean")


def inline(args):
    orb = load(args.orb)
    config = load(args.config)
    if args.name not in (config.get("orbs") or {}):
        die(f"{args.config} has no orb named {args.name} to replace")
    # An inline orb is an orb without its registry-only keys.
    config["orbs"][args.name] = {k: v for k, v in orb.items() if k not in ("version", "examples", "display")}
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(f"# {args.config} with the orb {args.name} packed by orbtool.py and inlined\n")
        yaml.dump(config, f, Dumper=LiteralDumper, sort_keys=False, width=96, allow_unicode=True)
    print(f"inlined {args.orb} as orb {args.name} in {args.output}")


def review_configs(args):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = review_config.review(args.files, root)
    for p in problems:
        print(p)
    if problems:
        die(f"{len(problems)} review problem(s)", 1)
    print(f"review-config: {', '.join(args.files)}: clean")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--src", default="orb/src")
    p.add_argument("--version")
    p.add_argument("--checksums", help="a SHA256SUMS file of the release archives")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(func=pack)
    r = sub.add_parser("review")
    r.add_argument("--src", default="orb/src")
    r.set_defaults(func=review)
    i = sub.add_parser("inline")
    i.add_argument("--orb", required=True)
    i.add_argument("--config", required=True)
    i.add_argument("--name", default="stevedore")
    i.add_argument("-o", "--output", required=True)
    i.set_defaults(func=inline)
    rc = sub.add_parser("review-config")
    rc.add_argument("files", nargs="+")
    rc.set_defaults(func=review_configs)
    a = ap.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
