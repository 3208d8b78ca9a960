"""Every Python and ``gauss-flows`` snippet of the README runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import matplotlib
import pytest

from gauss_flows.cli import main

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README]
_FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SHELLS = {"console", "bash", "sh", "shell"}


def snippets(text: str) -> list[tuple[str, str]]:
    """The ``(kind, code)`` of every runnable fenced block, in document order.

    ``kind`` is ``"python"`` or ``"cli"``; a cli snippet is one ``gauss-flows`` command
    (console blocks: the lines after ``$``; bash blocks: every non-comment line).
    Other shell commands (e.g. ``pip install``) are not run.
    """
    found: list[tuple[str, str]] = []
    for match in _FENCE.finditer(text):
        lang, body = match.group(1).lower(), match.group(2)
        if lang == "python":
            found.append(("python", body))
        elif lang in _SHELLS:
            for line in body.splitlines():
                line = line.strip()
                if lang == "console":
                    if not line.startswith("$ "):
                        continue
                    line = line[2:].strip()
                if line and not line.startswith("#") and line.split()[0] == "gauss-flows":
                    found.append(("cli", line))
    return found


def test_snippet_extraction():
    text = (
        "```python\nx = 1\n```\n```console\n$ pip install gauss_flows\n"
        "$ gauss-flows info d.csv\noutput line\n```\n```bash\n# c\ngauss-flows sample m -n 2\n```\n"
    )
    assert snippets(text) == [
        ("python", "x = 1\n"),
        ("cli", "gauss-flows info d.csv"),
        ("cli", "gauss-flows sample m -n 2"),
    ]


def test_quickstart_covers_api_estimator_and_cli():
    kinds = [k for k, _ in snippets(README.read_text())]
    codes = "".join(c for _, c in snippets(README.read_text()))
    assert kinds.count("python") >= 2 and kinds.count("cli") >= 5
    for name in ("gf.fit_rbig", "gf.save", "GaussianizationDensity", "GridSearchCV"):
        assert name in codes


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_document_snippets_run(document, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    found = snippets(document.read_text())
    assert found, f"{document.name} has no runnable snippets"
    for i, (kind, code) in enumerate(found):
        if kind == "python":
            exec(compile(code, f"{document.name}[snippet {i}]", "exec"), namespace)  # noqa: S102
        else:
            assert main(shlex.split(code)[1:]) == 0, f"{document.name}: {code} failed"
    assert (tmp_path / "model.gflow").exists()


def _package_modules() -> list[str]:
    src = ROOT / "src"
    return sorted(
        ".".join(path.relative_to(src).with_suffix("").parts)
        for path in (src / "gauss_flows").rglob("*.py")
        if path.name not in {"__init__.py", "__main__.py"} and ">>>" in path.read_text()
    )


@pytest.mark.slow
@pytest.mark.parametrize("module", _package_modules())
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    """Every docstring example of the package runs and prints what it shows."""
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)  # examples that save files write here
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
