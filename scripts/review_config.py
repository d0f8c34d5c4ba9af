"""Review rules for a CircleCI configuration (`orbtool.py review-config FILE...`): the mistakes
that schema validation passes and the first real run fails on.

  RC101  resource classes, machine images and Xcode versions are ones CircleCI offers
         (.circleci/resource-classes.yml, with its sources and date; retired ones say since when)
  RC102  no two jobs that can run at the same time persist the same workspace path (CircleCI
         refuses to attach a workspace where concurrent jobs wrote the same file)
  RC103  every tool a run step calls is in its image or installed by an earlier step of the job
         (.circleci/images.yml); scripts a step runs with `bash scripts/X.sh` are read too
  RC104  every step that waits (`stevedore deploy`, `stevedore run-task`, or an orb step with a
         timeout) has a no_output_timeout at least as long as its timeout
  RC105  tag filters do not match the pipeline's own pre-release tags (vX.Y.Z-dev.<sha>), so
         the pipeline does not trigger itself
"""

import fnmatch
import os
import re

import yaml

DEV_TAG = "v1.2.3-dev.0123456789ab"
DEFAULT_WAIT = {"deploy": 15 * 60, "run-task": 30 * 60}
CIRCLECI_DEFAULT_NO_OUTPUT = 10 * 60


def seconds(text):
    """A CircleCI or stevedore duration (`90s`, `15m`, `1.5h`) in seconds; None if not one."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*", str(text))
    if not m:
        return None
    n = float(m.group(1))
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


class Config:
    """One configuration file and the project root its scripts are read from."""

    def __init__(self, path, root, classes, images):
        self.path = path
        self.name = os.path.relpath(path, root) if path.startswith(root) else path
        self.root = root
        self.doc = load(path) or {}
        self.classes = classes
        self.images = images
        self.problems = []

    def problem(self, code, text):
        self.problems.append(f"{code}: {self.name}: {text}")

    # The steps of a job, with the config's own commands expanded (orb commands stay as they are).
    def steps(self, steps, seen=()):
        commands = self.doc.get("commands") or {}
        for step in steps or []:
            name = step if isinstance(step, str) else next(iter(step))
            if name in commands and name not in seen:
                args = {} if isinstance(step, str) else step[name] or {}
                yield from self.steps(self.substitute(commands[name], args), (*seen, name))
            elif name in ("when", "unless"):
                yield from self.steps(step[name].get("steps"), seen)
            else:
                yield step

    @staticmethod
    def substitute(command, args):
        """A config command's steps with `<< parameters.X >>` replaced by the arguments (or
        the defaults), as CircleCI expands them."""
        values = {k: (v or {}).get("default", "") for k, v in (command.get("parameters") or {}).items()}
        values.update(args)
        text = yaml.safe_dump(command.get("steps") or [], width=10_000)
        for k, v in values.items():
            text = re.sub(r"<<\s*parameters\." + re.escape(k) + r"\s*>>", lambda _: str(v), text)
        return yaml.safe_load(text)

    def executor(self, job):
        """The job's executor as (kind, image, resource_class)."""
        spec = job
        ex = job.get("executor")
        if ex is not None:
            ex_name = ex if isinstance(ex, str) else ex.get("name")
            spec = (self.doc.get("executors") or {}).get(ex_name)
            if spec is None:
                return None  # an orb's executor: the orb's own review checks it
        rc = job.get("resource_class") or spec.get("resource_class") or "medium"
        if "docker" in spec:
            return ("docker", spec["docker"][0]["image"], rc)
        if "machine" in spec:
            m = spec["machine"]
            return ("machine", m.get("image", "") if isinstance(m, dict) else "", rc)
        if "macos" in spec:
            return ("macos", str(spec["macos"].get("xcode", "")), rc)
        return None

    def run_text(self, step):
        """A run step's command, with the scripts it runs by path (`bash scripts/X.sh`, and the
        scripts those run) appended."""
        run = step["run"]
        text = run if isinstance(run, str) else run.get("command", "")
        read, todo = set(), [text]
        while todo:
            for script in re.findall(r"\bbash\s+(scripts/[A-Za-z0-9_./-]+\.sh)", todo.pop()):
                p = os.path.join(self.root, script)
                if script not in read and os.path.isfile(p):
                    read.add(script)
                    with open(p, encoding="utf-8") as f:
                        todo.append(f.read())
                    text += "\n" + todo[-1]
        return text


def check_classes(c):
    retired = c.classes.get("retired") or {}
    for name, job in (c.doc.get("jobs") or {}).items():
        ex = c.executor(job)
        if ex is None:
            continue
        kind, image, rc = ex
        if "<<" in str(rc) or "<<" in str(image):
            continue
        if rc in retired:
            c.problem("RC101", f"job {name}: resource class {rc} is retired: {retired[rc]}")
        elif rc not in c.classes[kind]["classes"]:
            c.problem("RC101", f"job {name}: resource class {rc} is not a {kind} class CircleCI offers "
                      f"(.circleci/resource-classes.yml, checked {c.classes.get('checked')})")
        if kind == "machine":
            base = image.split(":")[0]
            if base in retired:
                c.problem("RC101", f"job {name}: machine image {image} is retired: {retired[base]}")
            elif base not in c.classes["machine"]["images"]:
                c.problem("RC101", f"job {name}: machine image {image} is not one CircleCI offers")
        if kind == "macos" and image not in [str(x) for x in c.classes["macos"]["xcode"]]:
            c.problem("RC101", f"job {name}: Xcode {image} is not offered on the {rc} class")


def workflow_jobs(c):
    """(workflow, entries): each entry is (name, job key, requires, filters)."""
    for wf_name, wf in (c.doc.get("workflows") or {}).items():
        if not isinstance(wf, dict):
            continue
        entries = []
        for item in wf.get("jobs") or []:
            key, opts = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            opts = opts or {}
            entries.append((opts.get("name", key), key, opts.get("requires") or [], opts.get("filters") or {}))
        yield wf_name, entries


def persisted(c, job):
    out = []
    for step in c.steps(job.get("steps")):
        if isinstance(step, dict) and "persist_to_workspace" in step:
            p = step["persist_to_workspace"]
            root = str(p.get("root", "."))
            out += [os.path.normpath(os.path.join(root, x)) for x in p.get("paths") or []]
    return out


def overlap(a, b):
    """Whether two persisted paths (globs) can name the same file."""
    if a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/"):
        return True
    return fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)


def check_workspace(c):
    jobs = c.doc.get("jobs") or {}
    for wf, entries in workflow_jobs(c):
        requires = {name: set(req) for name, _, req, _ in entries}

        def ancestors(name, acc=None):
            acc = set() if acc is None else acc
            for r in requires.get(name, ()):
                if r not in acc:
                    acc.add(r)
                    ancestors(r, acc)
            return acc

        paths = {name: persisted(c, jobs[key]) for name, key, _, _ in entries if key in jobs}
        names = sorted(paths)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if a in ancestors(b) or b in ancestors(a):
                    continue
                for pa in paths[a]:
                    for pb in paths[b]:
                        if overlap(pa, pb):
                            c.problem("RC102", f"workflow {wf}: jobs {a} and {b} can run at the same time and "
                                      f"both persist {pa if pa == pb else pa + ' / ' + pb}: persist each job's own files")


def image_key(kind, image):
    if kind == "machine":
        return "machine:ubuntu"
    if kind == "macos":
        return "macos:xcode"
    return image.split(":")[0]


def check_tools(c):
    table = c.images["images"]
    for name, job in (c.doc.get("jobs") or {}).items():
        ex = c.executor(job)
        if ex is None:
            continue
        key = image_key(ex[0], ex[1])
        if key not in table:
            c.problem("RC103", f"job {name}: image {ex[1]} is not in .circleci/images.yml: add its tools there")
            continue
        have = set(table[key])
        for step in c.steps(job.get("steps")):
            if not (isinstance(step, dict) and "run" in step):
                continue
            text = c.run_text(step)
            for pattern, tools in c.images["installs"].items():
                if re.search(pattern, text):
                    have.update(tools)
            for tool, pattern in c.images["needs"].items():
                guarded = f"command -v {tool.split('-')[0]}" in text  # used only where present
                if re.search(pattern, text, re.M) and tool not in have and not guarded:
                    label = step["run"].get("name", "") if isinstance(step["run"], dict) else ""
                    c.problem("RC103", f"job {name}: step '{label}' needs {tool}, which {ex[1]} does not have "
                              f"and no earlier step installs")


def check_waits(c):
    for name, job in (c.doc.get("jobs") or {}).items():
        for step in c.steps(job.get("steps")):
            if not (isinstance(step, dict) and "run" in step and isinstance(step["run"], dict)):
                continue
            cmd = step["run"].get("command", "")
            m = re.search(r"stevedore\s+(deploy|run-task)\b([^\n]*)", cmd)
            if not m:
                continue
            t = re.search(r"--timeout[= ]\s*(\S+)", m.group(2))
            wait = seconds(t.group(1)) if t else DEFAULT_WAIT[m.group(1)]
            limit = seconds(step["run"].get("no_output_timeout", "10m"))
            if wait and (limit is None or limit < wait):
                c.problem("RC104", f"job {name}: step '{step['run'].get('name', '')}' waits up to "
                          f"{int(wait)} s but no_output_timeout is {step['run'].get('no_output_timeout', '10m (the default)')}")


def check_tags(c):
    for wf, entries in workflow_jobs(c):
        for name, _, _, filters in entries:
            only = (filters.get("tags") or {}).get("only")
            for pattern in [only] if isinstance(only, str) else only or []:
                rx = pattern[1:-1] if pattern.startswith("/") and pattern.endswith("/") else re.escape(pattern)
                if re.fullmatch(rx, DEV_TAG):
                    c.problem("RC105", f"workflow {wf}: job {name} runs for tag {DEV_TAG} "
                              f"(filter {pattern}): the pipeline's own pre-release tags would trigger it")


def review(paths, root):
    classes = load(os.path.join(root, ".circleci/resource-classes.yml"))
    images = load(os.path.join(root, ".circleci/images.yml"))
    problems = []
    for path in paths:
        c = Config(os.path.abspath(path), root, classes, images)
        for check in (check_classes, check_workspace, check_tools, check_waits, check_tags):
            check(c)
        problems += c.problems
    return problems


def orb_wait_problems(where, run, params):
    """RC104 for an orb's run step: one that passes a timeout must have a no_output_timeout that
    is the same parameter or a literal at least the timeout's default."""
    env = run.get("environment") or {}
    timeout = env.get("STEVEDORE_TIMEOUT")
    if timeout is None:
        return []
    limit = run.get("no_output_timeout")
    if limit is None:
        return [f"RC104: {where}: step '{run.get('name')}' waits up to its timeout but sets no no_output_timeout "
                "(CircleCI ends a step after 10 minutes without output)"]
    if str(limit).strip() == str(timeout).strip():
        return []
    ref = re.fullmatch(r"<<\s*parameters\.([a-z0-9_]+)\s*>>", str(timeout).strip())
    wait = seconds((params.get(ref.group(1)) or {}).get("default", "")) if ref else seconds(timeout)
    got = seconds(limit)
    if wait is None or got is None or got < wait:
        return [f"RC104: {where}: step '{run.get('name')}': no_output_timeout {limit} is shorter than its timeout {timeout}"]
    return []
