#!/usr/bin/env python3
"""Run a job of a packed orb as CircleCI would, for the end-to-end tests (tests/it/orb.rs) that
drive it against the sandbox; nothing here can reach CircleCI.

What it copies of CircleCI (from its configuration reference and orb docs), and nothing more:
- parameters: given values checked against their types (string, boolean, enum, integer),
  defaults for the rest, unknown or missing required ones refused; `<< parameters.x >>` that is
  a whole value keeps the parameter's type, inside text it is its text (booleans as true/false);
- orb commands expanded in place with their own parameters; `when`/`unless` by their condition;
  a job's executor must be one of the orb's;
- `environment:` values as strings, booleans as 1/0 (what CircleCI hands a step, circleci-docs#5304);
- each `run` step in its own `/bin/bash -eo pipefail` (CircleCI's default shell), in the working
  directory, with `$BASH_ENV` (a file read by bash before the script) carried from step to step,
  CIRCLECI=true and CIRCLE_WORKING_DIRECTORY set; the first failing step ends the job with its code;
- `checkout` copies a directory given with --checkout; `restore_cache`/`save_cache` keep paths
  under a local cache directory keyed as given, with `{{ arch }}` as CircleCI spells it.
Other built-in steps (setup_remote_docker, store_artifacts, workspaces) do nothing here.

With --config and --workflow it runs a whole project config instead: the orb the config imports
(`orbs: {alias: …}`) is the packed orb given, the workflow's jobs run one after another in the
order listed (each `requires` must have run before), each on a fresh machine (its own working
directory and $BASH_ENV); a job is the orb's (`alias/job` with its parameters) or the config's
own, whose steps may use the orb's commands as `alias/command`. --default NAME=VALUE replaces
the default of every orb parameter of that name (the release URL: the published orb's points
at GitHub, which is out of reach here).
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile

# The orb's grammar (parameter references, built-in steps) is orbtool's, which packs the orb.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))
from orbtool import BUILTIN_STEPS, PARAM, die, load  # noqa: E402


class Expander:
    def __init__(self, orb):
        self.orb = orb

    @staticmethod
    def bind(kind, name, spec, given):
        """Parameter values: given ones checked against their types, defaults for the rest."""
        params = spec.get("parameters") or {}
        unknown = set(given) - set(params)
        if unknown:
            die(f"{kind} {name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        values = {}
        for p, s in params.items():
            if p in given:
                v = given[p]
            elif "default" in s:
                v = s["default"]
            else:
                die(f"{kind} {name}: required parameter {p} is missing")
            t = s.get("type", "string")
            if t == "boolean":
                if isinstance(v, str) and v in ("true", "false"):
                    v = v == "true"
                if not isinstance(v, bool):
                    die(f"{kind} {name}: parameter {p} must be a boolean, got {v!r}")
            elif t == "enum" and v not in s.get("enum", []):
                die(f"{kind} {name}: parameter {p} must be one of {s.get('enum')}, got {v!r}")
            elif t == "integer" and not isinstance(v, int):
                die(f"{kind} {name}: parameter {p} must be an integer, got {v!r}")
            values[p] = v
        return values

    @staticmethod
    def substitute(node, values):
        if isinstance(node, dict):
            return {k: Expander.substitute(v, values) for k, v in node.items()}
        if isinstance(node, list):
            return [Expander.substitute(v, values) for v in node]
        if isinstance(node, str):
            whole = PARAM.fullmatch(node.strip())
            if whole and whole.group(1) in values:
                # A value that is only a parameter keeps the parameter's type.
                return values[whole.group(1)]

            def text(m):
                if m.group(1) not in values:
                    die(f"<< parameters.{m.group(1)} >> is not a parameter here")
                v = values[m.group(1)]
                return ("true" if v else "false") if isinstance(v, bool) else str(v)

            return PARAM.sub(text, node)
        return node

    @staticmethod
    def truthy(cond):
        """CircleCI's logic statements: and, or, not, equal; otherwise false, null, 0 and the
        empty string are false."""
        if isinstance(cond, dict) and len(cond) == 1:
            (op, arg), = cond.items()
            if op == "and":
                return all(Expander.truthy(c) for c in arg or [])
            if op == "or":
                return any(Expander.truthy(c) for c in arg or [])
            if op == "not":
                return not Expander.truthy(arg)
            if op == "equal":
                return len(arg or []) > 0 and all(a == arg[0] for a in arg)
            die(f"the harness does not know the logic statement {op}")
        return cond not in (None, False, 0, "", "false", "0")

    def steps(self, steps):
        """Flatten orb commands and when/unless into built-in steps."""
        out = []
        for step in steps or []:
            name, args = (step, {}) if isinstance(step, str) else next(iter(step.items()))
            args = args or {}
            alias = getattr(self, "alias", None)
            if alias and name.startswith(alias + "/"):
                name = name[len(alias) + 1:]
                if name not in (self.orb.get("commands") or {}):
                    die(f"the orb has no command {name}")
            if name in ("when", "unless"):
                truthy = self.truthy(args.get("condition"))
                if truthy == (name == "when"):
                    out.extend(self.steps(args.get("steps")))
            elif name in (self.orb.get("commands") or {}):
                spec = self.orb["commands"][name]
                values = self.bind("command", name, spec, args)
                out.extend(self.steps(self.substitute(spec.get("steps"), values)))
            elif name in BUILTIN_STEPS:
                out.append((name, args))
            else:
                die(f"unknown step {name}")
        return out

    def job(self, name, given):
        jobs = self.orb.get("jobs") or {}
        if name not in jobs:
            die(f"the orb has no job {name} (jobs: {', '.join(jobs)})")
        spec = jobs[name]
        values = self.bind("job", name, spec, given)
        body = self.substitute({k: v for k, v in spec.items() if k != "parameters"}, values)
        executor = body.get("executor")
        ex_name = executor if isinstance(executor, str) else (executor or {}).get("name")
        if ex_name and ex_name not in (self.orb.get("executors") or {}):
            die(f"job {name}: executor {ex_name} is not an executor of the orb")
        return self.steps(body.get("steps"))


def env_value(v):
    # CircleCI hands a boolean parameter to `environment:` as 1 or 0 (circleci-docs#5304).
    if isinstance(v, bool):
        return "1" if v else "0"
    return "" if v is None else str(v)


def cache_key(key):
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return key.replace("{{ arch }}", f"arch1-linux-{arch}")


def set_defaults(orb, defaults):
    """Replace the default of every orb parameter named in `defaults`."""
    for kind in ("commands", "jobs"):
        for spec in (orb.get(kind) or {}).values():
            for name, p in (spec.get("parameters") or {}).items():
                if name in defaults:
                    p["default"] = defaults[name]


def run_config(args):
    """The workflow's jobs in order, each on a fresh machine; the first failure ends the run."""
    orb = load(args.orb)
    set_defaults(orb, dict(d.partition("=")[::2] for d in args.default or []))
    config = load(args.config)
    aliases = list((config.get("orbs") or {}).keys())
    if len(aliases) != 1:
        die(f"{args.config}: the harness runs configs that import one orb (stevedore), not {aliases}")
    expander = Expander(orb)
    expander.alias = aliases[0]
    workflow = (config.get("workflows") or {}).get(args.workflow)
    if not workflow:
        die(f"{args.config}: no workflow {args.workflow}")
    done = set()
    for entry in workflow.get("jobs") or []:
        job, given = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        given = dict(given or {})
        for key in ("filters", "context", "matrix"):
            given.pop(key, None)
        shown = given.pop("name", job)
        for req in given.pop("requires", []) or []:
            if req not in done:
                die(f"job {shown} requires {req}, which has not run")
        if job.startswith(expander.alias + "/"):
            steps = expander.job(job[len(expander.alias) + 1:], given)
        else:
            spec = (config.get("jobs") or {}).get(job)
            if spec is None:
                die(f"{args.config}: no job {job}")
            if given:
                die(f"job {job}: the harness takes no parameters for the config's own jobs")
            steps = expander.steps(spec.get("steps"))
        print(f"#### workflow {args.workflow}: job {shown}", flush=True)
        made = [tempfile.mkdtemp(prefix="orb-job-"), tempfile.mkdtemp(prefix="orb-bash-env-"),
                tempfile.mkdtemp(prefix="orb-cache-")]
        try:
            run_steps(args, steps, made[0], made[1], made[2], shown)
        finally:
            for d in made:
                shutil.rmtree(d, ignore_errors=True)
        done.add(shown)
    print(f"#### workflow {args.workflow}: all {len(done)} jobs succeeded", flush=True)


def run(args):
    orb = load(args.orb)
    given = {}
    for p in args.param or []:
        k, _, v = p.partition("=")
        given[k] = v
    steps = Expander(orb).job(args.job, given)
    # Whatever this run creates under the temporary directory goes when it ends, however it ends.
    made = []

    def scratch(prefix):
        made.append(tempfile.mkdtemp(prefix=prefix))
        return made[-1]

    try:
        run_steps(args, steps, args.workdir or scratch("orb-job-"), scratch("orb-bash-env-"),
                  args.cache_dir or scratch("orb-cache-"), args.job)
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


def run_steps(args, steps, work, bash_env_dir, cache_dir, job):
    os.makedirs(work, exist_ok=True)
    bash_env = os.path.join(bash_env_dir, "bash_env")
    open(bash_env, "w").close()
    base_env = dict(os.environ, BASH_ENV=bash_env, CIRCLE_WORKING_DIRECTORY=work, CIRCLECI="true")
    for i, (name, a) in enumerate(steps, 1):
        if name == "run":
            title = a.get("name", "run")
            print(f"#### step {i}: {title}", flush=True)
            env = dict(base_env)
            env.update({k: env_value(v) for k, v in (a.get("environment") or {}).items()})
            script = os.path.join(bash_env_dir, f"step-{i}.sh")
            with open(script, "w", encoding="utf-8") as f:
                f.write(a["command"])
            # CircleCI's default shell; bash reads $BASH_ENV before the script, as in a job.
            code = subprocess.call(["/bin/bash", "-eo", "pipefail", script], cwd=a.get("working_directory", work), env=env)
            if code != 0:
                print(f"#### step {i} ({title}) failed with exit code {code}", flush=True)
                sys.exit(code)
        elif name == "checkout":
            print(f"#### step {i}: checkout", flush=True)
            if args.checkout:
                shutil.copytree(args.checkout, work, dirs_exist_ok=True)
        elif name == "restore_cache":
            keys = a.get("keys") or [a.get("key")]
            hit = next((k for k in map(cache_key, keys) if os.path.isdir(os.path.join(cache_dir, k))), None)
            print(f"#### step {i}: restore_cache {'hit ' + hit if hit else 'miss'}", flush=True)
            if hit:
                shutil.copytree(os.path.join(cache_dir, hit), "/", dirs_exist_ok=True)
        elif name == "save_cache":
            key = cache_key(a["key"])
            print(f"#### step {i}: save_cache {key}", flush=True)
            for p in a.get("paths") or []:
                p = os.path.expanduser(p)
                if os.path.exists(p):
                    shutil.copytree(p, os.path.join(cache_dir, key) + p, dirs_exist_ok=True)
        else:
            print(f"#### step {i}: {name} (nothing to do on this machine)", flush=True)
    print(f"#### job {job}: all {len(steps)} steps succeeded", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orb", required=True, help="a packed orb.yml")
    ap.add_argument("--job")
    ap.add_argument("--param", action="append", help="NAME=VALUE")
    ap.add_argument("--config", help="a project config to run a workflow of (with --workflow)")
    ap.add_argument("--workflow")
    ap.add_argument("--default", action="append", help="NAME=VALUE: a new default for orb parameters")
    ap.add_argument("--checkout", help="the project directory checkout copies")
    ap.add_argument("--workdir")
    ap.add_argument("--cache-dir")
    args = ap.parse_args()
    if args.config:
        if not args.workflow:
            die("--config needs --workflow")
        run_config(args)
    elif args.job:
        run(args)
    else:
        die("give --job, or --config and --workflow")


if __name__ == "__main__":
    main()
