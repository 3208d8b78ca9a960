"""Sphinx configuration of the gauss_flows documentation site."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))
# Tutorials execute in a kernel that inherits this environment: figures through the
# notebook (inline) backend whatever the shell sets, and the checkout's package first.
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(HERE.parent / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

import gauss_flows  # noqa: E402

project = "gauss_flows"
author = "gauss_flows developers"
release = gauss_flows.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself, so math renders offline
    "gf_api",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
html_theme = "furo"
html_title = f"gauss_flows {release}"
html_static_path = []

# Fail on what a reader would trip over: every cross-reference must resolve.
nitpicky = True
# Only our own names are checked; types of jax, flowjax, equinox, numpy and the standard
# library appear in signatures without an inventory to link them to (the build is offline).
nitpick_ignore_regex = [(r"py:.*", r"(?!gauss_flows\b).*")]
suppress_warnings = ["myst.header"]

autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = [("References", "notes_style")]

# Tutorials: MyST-markdown jupytext notebooks, executed at every build; a cell that
# raises fails the build, and so does a cell or a whole tutorial that runs past five
# minutes. Each is written to take well under two minutes on two idle cores; the limit
# leaves room for a machine shared with other jobs, and the execution-times page shows
# what each took.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_execution_show_tb = True
gf_max_notebook_seconds = float(os.environ.get("GF_DOCS_MAX_NOTEBOOK_SECONDS", "300"))
nb_merge_streams = True
# Library warnings and progress-bar notices stay out of the pages; a cell that raises
# still fails the build.
nb_output_stderr = "remove"
# Markdown outputs (the benchmark tables) are rendered with GitHub-flavoured tables.
nb_render_markdown_format = "gfm"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
