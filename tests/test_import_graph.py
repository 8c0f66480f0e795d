"""The package's import graph has no circle: every `import` and `from ... import` of `hypertext` (at module level
and inside functions alike, read with `ast`), from module to module. Importing `hypertext.a.b` is an arrow to that
module, not to the packages above it; `from hypertext.a import name` is an arrow to `hypertext.a.name` when that is a
module, else to `hypertext.a` (its `__init__`)."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "hypertext"


def modules(root=ROOT, package=PACKAGE):
    """`{module name: file path}` of every .py file of the package."""
    found = {}
    for folder, _, names in os.walk(os.path.join(root, package)):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, root)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def imports(path, module, known):
    """The package modules that the file at `path` (module `module`) imports."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                child = f"{source}.{alias.name}"
                targets.add(child if child in known else source)
    return {t for t in targets if t in known and t != module}


def graph(root=ROOT, package=PACKAGE):
    known = modules(root, package)
    return {module: imports(path, module, known) for module, path in known.items()}


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), each sorted; and self-loops."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_finds_a_circle_and_only_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_reads_the_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.sub import helper\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "helper.py").write_text("def f():\n    from pkg import top\n")
    (package / "top.py").write_text("from .sub.helper import f\nimport os\n")
    assert graph(str(tmp_path), "pkg") == {"pkg": {"pkg.sub.helper"}, "pkg.sub": set(), "pkg.sub.helper": {"pkg.top"},
                                           "pkg.top": {"pkg.sub.helper"}}
    assert cycles(graph(str(tmp_path), "pkg")) == [["pkg.sub.helper", "pkg.top"]]



def test_the_package_has_no_import_circle():
    edges = graph()
    assert len(edges) > 30 and edges["hypertext.training.trainer"]
    found = cycles(edges)
    assert found == [], found
