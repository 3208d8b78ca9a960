"""Sphinx extension: the API reference and the docs coverage check.

At ``builder-inited`` it writes ``api/index.md`` and one page per group of
:func:`gf_public.groups` (autodoc directives, nothing hand-listed), after refusing the
build if :func:`gf_public.coverage_problems` finds a public name without documentation.
At ``env-check-consistency`` it refuses the build if any public name did not end up as
an object of the Python domain, i.e. is missing from the rendered reference.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

import gf_public

logger = logging.getLogger(__name__)
API_DIR = "api"
DIRECTIVE = {
    "class": "autoclass",
    "exception": "autoexception",
    "function": "autofunction",
}


def _module_path(group: str) -> str:
    return gf_public.PACKAGE if not group else f"{gf_public.PACKAGE}.{group}"


def _summary(modname: str) -> str:
    doc = inspect.getdoc(importlib.import_module(modname)) or ""
    first = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    return first.rstrip(".")


def _entry_rst(entry: gf_public.PublicName) -> str:
    if entry.kind == "data":
        doc = gf_public.data_doc(entry)
        value = repr(entry.obj)
        if len(value) > 70:
            value = f"<{type(entry.obj).__name__} of {len(entry.obj)} entries>" if hasattr(
                entry.obj, "__len__"
            ) else type(entry.obj).__name__
        body = "\n".join("   " + line for line in doc.splitlines())
        module, name = entry.path.rsplit(".", 1)
        return f".. py:data:: {name}\n   :module: {module}\n   :value: {value}\n\n{body}\n"
    options = "   :members:\n" if entry.kind == "class" else ""
    return f".. {DIRECTIVE[entry.kind]}:: {entry.path}\n{options}"


def _page(group: str, entries: list[gf_public.PublicName]) -> str:
    modname = _module_path(group)
    title = f"``{modname}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {modname}", "   :no-members:", ""]
    top = [e for e in entries if e.path.count(".") == 1]
    rest = [e for e in entries if e.path.count(".") > 1]
    if group and top:
        lines += [
            f".. rubric:: Also exported as ``{gf_public.PACKAGE}.NAME``",
            "",
            f"Defined in ``{modname}``, documented under the shorter path.",
            "",
        ]
    lines += [".. currentmodule:: " + (gf_public.PACKAGE if top else modname), ""]
    for entry in top + rest:
        if entry in rest and entry is rest[0]:
            lines += [f".. currentmodule:: {modname}", ""]
            if group and top:
                lines += [f".. rubric:: Only in ``{modname}``", ""]
        lines += [_entry_rst(entry), ""]
    return "\n".join(lines)


def write_reference(app: Sphinx) -> None:
    """Refuse undocumented names, then write the reference pages from the package."""
    if not app.config.gf_api_reference:
        return
    problems = gf_public.coverage_problems()
    if problems:
        for problem in problems:
            logger.error("docs coverage: %s", problem)
        raise ExtensionError(
            f"docs coverage check: {len(problems)} public name(s) lack documentation"
        )
    out = Path(app.srcdir) / API_DIR
    out.mkdir(exist_ok=True)
    groups = gf_public.groups()
    names = []
    for group, entries in groups.items():
        name = group or "package"
        names.append(name)
        text = _page(group, entries)
        path = out / f"{name}.rst"
        if not path.exists() or path.read_text() != text:  # keep incremental builds cheap
            path.write_text(text)
    for stale in out.glob("*.rst"):
        if stale.stem not in names:
            stale.unlink()
    rows = "\n".join(
        f"| {{doc}}`{_module_path(g)} <{g or 'package'}>` | {_summary(_module_path(g))} | {len(e)} |"
        for g, e in groups.items()
    )
    index = (
        "# API reference\n\n"
        "Every public name of the package, grouped by the module that defines it. The pages "
        "are generated from `gauss_flows.__all__` and the public modules at build time; a name "
        "re-exported by `gauss_flows` is documented under that shorter path.\n\n"
        "| module | what it holds | names |\n|---|---|---|\n"
        f"{rows}\n\n"
        "```{toctree}\n:hidden:\n\n" + "\n".join(names) + "\n```\n"
    )
    index_path = out / "index.md"
    if not index_path.exists() or index_path.read_text() != index:
        index_path.write_text(index)


def check_reference(app: Sphinx, env) -> None:
    """Refuse the build when a public name is missing from the rendered reference."""
    if not app.config.gf_api_reference:
        return
    documented = set(env.get_domain("py").objects)
    missing = [e.path for e in gf_public.public_names() if e.path not in documented]
    if missing:
        raise ExtensionError(
            "docs coverage check: not in the API reference: " + ", ".join(missing)
        )


def _lookup(path: str) -> object | None:
    """The object a dotted path names inside the package, or None if it names nothing."""
    if not path.startswith(gf_public.PACKAGE):
        return None
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def resolve_alias(app: Sphinx, env, node, contnode):
    """Resolve a reference to an object of the package under any of its import paths.

    A docstring may name ``gauss_flows.bijections.FixedRotation`` where the reference
    documents it as ``gauss_flows.FixedRotation``: same object, so the link goes there. A
    reference to a real but undocumented internal (``gauss_flows.fit.depth.depth_decision``)
    is shown as code without a link. A reference to nothing at all stays missing, and the
    build fails on it.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    candidates = [target]
    parts = module.split(".")
    candidates += [".".join(parts[:i] + [target]) for i in range(len(parts), 0, -1)]
    canonical = {id(e.obj): e.path for e in gf_public.public_names() if e.kind != "data"}
    domain = env.get_domain("py")
    for candidate in candidates:
        obj = _lookup(candidate)
        if obj is None:
            continue
        path = canonical.get(id(obj))
        if path is not None and path in domain.objects:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, "obj", path, node, contnode
            )
        # Attributes of documented classes: gauss_flows.fit.MixtureFit.fit -> gauss_flows.MixtureFit.fit
        owner, _, attr = candidate.rpartition(".")
        owner_path = canonical.get(id(_lookup(owner))) if owner else None
        if owner_path and f"{owner_path}.{attr}" in domain.objects:
            full = f"{owner_path}.{attr}"
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, "obj", full, node, contnode
            )
        return contnode
    return None


def check_notebook_times(app: Sphinx, env) -> None:
    """Refuse a tutorial whose execution took longer than ``gf_max_notebook_seconds``."""
    from myst_nb.sphinx_ import NbMetadataCollector

    limit = app.config.gf_max_notebook_seconds
    slow = []
    for docname in sorted(env.found_docs):
        data = NbMetadataCollector.get_doc_data(env).get(docname, {}).get("exec_data")
        if data and data.get("runtime") is not None:
            logger.info("executed %s in %.1f s", docname, data["runtime"])
            if data["runtime"] > limit:
                slow.append(f"{docname} ({data['runtime']:.0f} s)")
    if slow:
        raise ExtensionError(
            f"tutorials over the {limit:.0f} s execution limit: " + ", ".join(slow)
        )


def setup(app: Sphinx) -> dict:
    app.add_config_value("gf_max_notebook_seconds", 300.0, "env")
    # False builds a site without the API reference (the extension's own tests do).
    app.add_config_value("gf_api_reference", True, "env")
    app.connect("env-check-consistency", check_notebook_times)
    app.connect("missing-reference", resolve_alias)
    app.connect("builder-inited", write_reference)
    app.connect("env-check-consistency", check_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
