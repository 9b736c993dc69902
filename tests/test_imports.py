"""The package's layers: every import of tfdisgan, function-local ones included, goes to
the same layer or one below, and no chain of imports comes back to where it started.

The table is the map in docs/architecture.md; a new module must be added to it (the test
fails naming it). Parsed with `ast`, nothing is imported.
"""

import ast
import os

import tensorflow as tf

from tests.fixtures import REPO

PACKAGE = os.path.join(REPO, "tfdisgan")

# Layer of each module or package (a package's entry covers its submodules). Lower layers
# never import higher ones.
LAYERS = {
    0: ("tfdisgan", "tfdisgan.version", "tfdisgan._validate", "tfdisgan.files",
        "tfdisgan.images", "tfdisgan.precision", "tfdisgan.distribute",
        "tfdisgan.checkpoint_files", "tfdisgan.graph_memory", "tfdisgan.console",
        "tfdisgan.classes", "tfdisgan.torch_pickle"),
    1: ("tfdisgan.layers", "tfdisgan.losses", "tfdisgan.optimizers"),
    2: ("tfdisgan.data", "tfdisgan.augment"),
    3: ("tfdisgan.models",),
    4: ("tfdisgan.views", "tfdisgan.callbacks", "tfdisgan.metrics"),
    5: ("tfdisgan.config", "tfdisgan.flags"),
    6: ("tfdisgan.runs",),
    7: ("tfdisgan.transfer", "tfdisgan.export", "tfdisgan.mixing", "tfdisgan.nvidia_import",
        "tfdisgan.pytorch_import",
        "tfdisgan.measure", "tfdisgan.projection"),
    8: ("tfdisgan.training", "tfdisgan.gallery", "tfdisgan.experiments"),
}


def modules():
    """``{dotted name: path}`` of every module of the package (``__init__`` as the package)."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def layer_of(module):
    """The layer of `module`: its own entry, else its nearest package's (None: unlisted;
    the top package ``tfdisgan`` covers only its own ``__init__``)."""
    best = None
    for layer, names in LAYERS.items():
        for name in names:
            covers = module == name or (name != "tfdisgan" and module.startswith(name + "."))
            if covers and (
                    best is None or len(name) > len(best[1])):
                best = (layer, name)
    return None if best is None else best[0]


def imports(found):
    """``[(importer, imported module, line)]`` for every tfdisgan import in the package."""
    def resolve(name):
        while name not in found and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    edges = []
    for module, path in found.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base
                                                                          else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in found else base
                           for alias in node.names]
            for target in targets:
                if target == "tfdisgan" or target.startswith("tfdisgan."):
                    imported = resolve(target)
                    if imported != module:
                        edges.append((module, imported, node.lineno))
    return edges


def cycles(edges):
    """The import cycles among `edges`, each as a list of modules (Tarjan's SCCs > 1)."""
    graph = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


class ImportLayersTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.found = modules()
        self.edges = imports(self.found)

    def test_every_module_has_a_layer(self):
        unlisted = sorted(m for m in self.found if layer_of(m) is None)
        self.assertEqual(unlisted, [], "add these modules to LAYERS (tests/test_imports.py) "
                                       "and docs/architecture.md")

    def test_no_import_goes_up_a_layer(self):
        upward = [f"{path}:{line} imports {b} (layer {layer_of(b)} > {layer_of(a)})"
                  for a, b, line in self.edges
                  for path in [os.path.relpath(self.found[a], REPO)]
                  if a != "tfdisgan" and layer_of(b) is not None and layer_of(a) is not None
                  and layer_of(b) > layer_of(a)]
        self.assertEqual(upward, [])

    def test_no_import_cycle(self):
        self.assertEqual(cycles(self.edges), [])

    def test_no_private_name_crosses_a_module(self):
        # `from tfdisgan.x import _name` (or a `_name` reached through an imported module
        # alias): a private name is private to its module; make it public where it lives.
        crossing = []
        for module, path in self.found.items():
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            aliases = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "tfdisgan"):
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            crossing.append(f"{module}:{node.lineno} {alias.name}")
                        aliases[alias.asname or alias.name] = node.module
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in aliases and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    crossing.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
        self.assertEqual(crossing, [])

    def test_the_checks_catch_what_they_claim(self):
        # An upward edge and a cycle, made up: both are reported.
        edges = [("tfdisgan.runs", "tfdisgan.training", 1),
                 ("tfdisgan.training", "tfdisgan.runs", 2)]
        self.assertEqual(cycles(edges), [["tfdisgan.runs", "tfdisgan.training"]])
        self.assertGreater(layer_of("tfdisgan.training"), layer_of("tfdisgan.runs"))
        self.assertEqual(layer_of("tfdisgan.models.stylegan2"), 3)  # the package's entry
        self.assertIsNone(layer_of("tfdisgan.nothing_like_it"))
        self.assertIn(("tfdisgan.training", "tfdisgan.runs"),
                      {(a, b) for a, b, _ in self.edges})  # the parser sees real imports


if __name__ == "__main__":
    tf.test.main()
