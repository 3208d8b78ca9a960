"""The documentation site's checks: the coverage rule, and a build that fails on errors.

The full site is built by ``docs/build.sh`` (run by ``.ci/run``); these tests check, on
small inputs, that the rules the build relies on hold: every public name is documented,
a missing docstring or ``Example:`` section is caught, and a notebook cell that raises
or a reference that leads nowhere fails a build made with the site's configuration.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
import textwrap
import types
from pathlib import Path

import pytest

pytest.importorskip("myst_nb")

import gauss_flows as gf

DOCS = Path(__file__).resolve().parents[2] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import gf_public  # noqa: E402


def test_every_public_name_is_documented():
    assert gf_public.coverage_problems() == []


def test_public_names_cover_the_package_namespace():
    paths = {entry.path for entry in gf_public.public_names()}
    for name in gf.__all__:
        if isinstance(getattr(gf, name), types.ModuleType):
            continue
        assert f"gauss_flows.{name}" in paths
    # Names only in a public subpackage are documented under it, once.
    assert "gauss_flows.fit.SlicedRule" in paths
    assert "gauss_flows.layout.n_layers" in paths and "gauss_flows.inspect.n_layers" not in paths
    assert len(paths) == len(gf_public.public_names())


def test_coverage_check_names_each_gap(tmp_path, monkeypatch):
    (tmp_path / "gf_docs_fake.py").write_text(
        textwrap.dedent(
            '''
            def bare(): pass

            def no_example():
                """Does a thing."""

            def good():
                """Does a thing.

                Example:
                    >>> good()
                """

            UNDOCUMENTED = 1

            #: Documented data.
            DOCUMENTED = 2
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import gf_docs_fake as fake

    entries = [
        gf_public.PublicName(f"gauss_flows.fake.{name}", kind, "fake", getattr(fake, name), "gf_docs_fake")
        for name, kind in [("bare", "function"), ("no_example", "function"), ("good", "function"),
                           ("UNDOCUMENTED", "data"), ("DOCUMENTED", "data")]
    ]
    problems = gf_public.coverage_problems(entries)
    assert problems == [
        "gauss_flows.fake.bare: function without a docstring",
        "gauss_flows.fake.no_example: docstring without an 'Example:' section",
        "gauss_flows.fake.UNDOCUMENTED: data without a '#:' documentation comment",
    ]


NOTEBOOK_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page
"""


def build(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """Build a one-page site with the docs' own settings; (succeeded, warnings)."""
    from sphinx.application import Sphinx

    # conf.py sets variables for the notebook kernels; keep them out of later tests.
    for key in ("MPLBACKEND", "PYTHONPATH"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    conf = runpy.run_path(str(DOCS / "conf.py"))
    keep = ("nitpicky", "nitpick_ignore_regex", "nb_execution_mode", "nb_execution_raise_on_error",
            "nb_execution_timeout", "myst_enable_extensions", "suppress_warnings")
    overrides = {key: conf[key] for key in keep}
    overrides.update(extensions=["myst_nb", "gf_api"], gf_api_reference=False, html_theme="basic")
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(NOTEBOOK_HEADER + body)
    warnings = io.StringIO()
    try:
        app = Sphinx(str(src), None, str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                     confoverrides=overrides, status=None, warning=warnings, warningiserror=True,
                     freshenv=True)
        app.build()
    except Exception as err:  # Sphinx's warning-as-error, or myst-nb's ExecutionError
        return False, f"{warnings.getvalue()}\n{type(err).__name__}: {err}"
    return app.statuscode == 0, warnings.getvalue()


CLEAN = """
Links to {func}`gauss_flows.fit_rbig`, to {class}`gauss_flows.bijections.FixedRotation` (its
other import path) and to {func}`gauss_flows.fit.depth.depth_decision` (internal) resolve.

```{code-cell} python
print(1 + 1)
```
"""


def test_clean_page_builds(tmp_path, monkeypatch):
    ok, warnings = build(tmp_path, CLEAN, monkeypatch)
    assert ok, warnings


def test_raising_cell_fails_the_build(tmp_path, monkeypatch):
    ok, warnings = build(tmp_path, CLEAN + "\n```{code-cell} python\nraise ValueError('boom')\n```\n", monkeypatch)
    assert not ok
    assert "ExecutionError" in warnings and "index.md" in warnings


def test_dangling_reference_fails_the_build(tmp_path, monkeypatch):
    ok, warnings = build(tmp_path, CLEAN + "\nSee {func}`gauss_flows.no_such_function`.\n", monkeypatch)
    assert not ok
    assert "gauss_flows.no_such_function" in warnings
