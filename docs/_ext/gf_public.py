"""The public names of gauss_flows, derived from the package itself.

One rule decides what the API reference shows and what the docs coverage check
demands, so a name added to ``gauss_flows.__all__`` (or to a public module) is
documented and checked without editing the docs:

* the public modules are ``gauss_flows`` itself, every module named in its
  ``__all__``, and every other top-level module of the package whose name has no
  leading underscore (``gauss_flows.plotting``, ``gauss_flows.cli``, ...);
* a public module's names are its ``__all__``; a module without one offers the
  functions and classes it defines under names without a leading underscore;
* each object is documented once, under its shortest public path: a name in
  ``gauss_flows.__all__`` as ``gauss_flows.NAME``, any other as
  ``gauss_flows.MODULE.NAME``;
* objects are grouped by the top-level module they are defined in, which is how the
  package itself is laid out.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import types

PACKAGE = "gauss_flows"
SKIP_MODULES = ("__main__",)


@dataclasses.dataclass(frozen=True)
class PublicName:
    """One documented object: its public path, its kind and the module page it is on."""

    path: str  # e.g. "gauss_flows.fit_rbig" or "gauss_flows.fit.SlicedRule"
    kind: str  # "class", "exception", "function", "data" or "module"
    group: str  # top-level module the object is defined in, e.g. "fit"
    obj: object
    defining_module: str  # e.g. "gauss_flows.fit.rbig"; for data, the module holding it

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[1]


def _names_of(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    )


def public_modules() -> list[types.ModuleType]:
    """``gauss_flows`` and its public top-level modules, in name order."""
    package = importlib.import_module(PACKAGE)
    names = {
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name not in SKIP_MODULES
    }
    names |= {n for n in package.__all__ if isinstance(getattr(package, n), types.ModuleType)}
    return [package] + [importlib.import_module(f"{PACKAGE}.{n}") for n in sorted(names)]


def _kind(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def _group(obj: object, holder: types.ModuleType) -> str:
    module = getattr(obj, "__module__", None) if _kind(obj) != "data" else None
    if not isinstance(module, str) or not module.startswith(PACKAGE + "."):
        module = holder.__name__
    parts = module.split(".")
    # A private module's objects (gauss_flows._information.settings) belong with the
    # public module of the same name (gauss_flows.information).
    return parts[1].lstrip("_") if len(parts) > 1 else ""


def public_names() -> list[PublicName]:
    """Every public object of the package, once each, under its shortest public path.

    A name in ``gauss_flows.__all__`` is documented there; any other under the public
    module of its own group when that module offers it (``gauss_flows.layout.n_layers``
    rather than its re-export in ``gauss_flows.inspect``), else where it is first found.
    """
    seen: dict[tuple, PublicName] = {}
    out: list[PublicName] = []
    modules = public_modules()
    package, rest = modules[0], modules[1:]

    def home_first(module: types.ModuleType) -> int:
        return 0 if module is package else 1

    for module in sorted(modules, key=home_first):
        for name in _names_of(module):
            obj = getattr(module, name)
            kind = _kind(obj)
            if kind == "module":
                continue
            key = ("object", id(obj)) if kind != "data" else ("data", module.__name__, name)
            if key in seen:
                continue
            group = _group(obj, module)
            if module is not package and module.__name__ != f"{PACKAGE}.{group}":
                home = next((m for m in rest if m.__name__ == f"{PACKAGE}.{group}"), None)
                if home is not None and getattr(home, name, None) is obj and name in _names_of(home):
                    continue  # documented on its home module's page
            if not group and module.__name__ != PACKAGE:
                group = module.__name__.split(".")[1]
            defining = getattr(obj, "__module__", module.__name__) if kind != "data" else module.__name__
            entry = PublicName(f"{module.__name__}.{name}", kind, group, obj, defining)
            seen[key] = entry
            out.append(entry)
    return out


def groups() -> dict[str, list[PublicName]]:
    """Public names by the top-level module that defines them ('' = the package itself)."""
    by_group: dict[str, list[PublicName]] = {}
    for entry in public_names():
        by_group.setdefault(entry.group, []).append(entry)
    return dict(sorted(by_group.items()))


def data_doc(entry: PublicName) -> str:
    """The ``#:`` comment documenting a data name, searched in the modules under its holder."""
    from sphinx.pycode import ModuleAnalyzer

    holder = importlib.import_module(entry.defining_module)
    candidates = [holder.__name__]
    if hasattr(holder, "__path__"):
        candidates += [
            info.name
            for info in pkgutil.walk_packages(holder.__path__, holder.__name__ + ".")
            if info.name.rsplit(".", 1)[1] not in SKIP_MODULES
        ]
    for modname in candidates:
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # a module without source cannot hold a comment
            continue
        lines = docs.get(("", entry.name))
        if lines:
            return "\n".join(lines).strip()
    return ""


EXAMPLE_SECTION = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)


def coverage_problems(entries: list[PublicName] | None = None) -> list[str]:
    """What the docs coverage check refuses: every public name needs documentation.

    Functions, classes and exceptions need a docstring with an ``Example:`` (or
    ``Examples:``) section; data need a ``#:`` comment where they are assigned.
    """
    problems = []
    for entry in public_names() if entries is None else entries:
        if entry.kind == "data":
            if not data_doc(entry):
                problems.append(f"{entry.path}: data without a '#:' documentation comment")
            continue
        doc = inspect.getdoc(entry.obj) or ""
        if not doc.strip():
            problems.append(f"{entry.path}: {entry.kind} without a docstring")
        elif not EXAMPLE_SECTION.search(doc):
            problems.append(f"{entry.path}: docstring without an 'Example:' section")
    return problems
