"""Import circles between the modules of a crate: `import_circles.py ROOT [ROOT…]` prints each
set of modules that import one another round a circle (a strongly connected component of the
module graph with more than one module), and their count per root.

A module is a file under ROOT (src/ecs/deploy/follow.rs is ecs::deploy::follow; a mod.rs is
its folder's module). A module imports another when it names it in a path: `crate::a::b`, or
`super::x` resolved from where it stands. A name below a module file (a type, a function)
counts as that module; so does a child module named from its parent (`service::deploy_one`
in deploy/mod.rs). Tests (`#[cfg(test)]` files named tests.rs or *_tests.rs) are left out:
they may reach anywhere."""

import os
import re
import sys

PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")


def modules(root):
    """{module path tuple: file} for every Rust file under root."""
    found = {}
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs" or f.endswith("_tests.rs"):
                continue
            rel = os.path.relpath(os.path.join(d, f), root)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            found[tuple(rel)] = os.path.join(d, f)
    return found


def imports(mod, text, known):
    """The modules `mod` names, each as the longest known prefix of the path it writes."""
    out = set()
    # `use a::{b, c::d}` groups: each name in braces joined to the prefix.
    text = re.sub(
        r"\b((?:crate|super)(?:::\w+)*)::\{([^}]*)\}",
        lambda m: " ".join(f"{m.group(1)}::{p.strip()}" for p in m.group(2).split(",") if p.strip()),
        text,
    )
    for m in PATH.finditer(text):
        base, rest = m.group(1), [p for p in m.group(2).split("::") if p]
        if base == "crate":
            path = rest
        else:
            up = list(mod)[:-1]
            while rest and rest[0] == "super":
                rest = rest[1:]
                up = up[:-1]
            path = up + rest
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in known:
                target = tuple(path[:n])
                if target != mod and target:
                    out.add(target)
                break
    # Paths relative to this module: `child::item` names a child module.
    for m in re.finditer(r"(?<![:\w])([a-z_]\w*)((?:::\w+)+)", text):
        path = list(mod) + [m.group(1)] + [p for p in m.group(2).split("::") if p]
        for n in range(len(path), len(mod), -1):
            if tuple(path[:n]) in known:
                out.add(tuple(path[:n]))
                break
    out.discard(mod)
    return out


def circles(root):
    known = modules(root)
    graph = {}
    for mod, file in known.items():
        with open(file, encoding="utf-8") as f:
            text = f.read().split("#[cfg(test)]")[0]
        # Comments (doc links among them) name modules without importing them.
        text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("//"))
        graph[mod] = imports(mod, text, known)
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted("::".join(c) for c in comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return sorted(out)


def main():
    for root in sys.argv[1:]:
        found = circles(root)
        print(f"{root}: {len(found)} import circles")
        for c in found:
            print(f"  {len(c)} modules: {', '.join(c)}")


if __name__ == "__main__":
    main()
