"""When the library's long loops show a progress bar: one rule for every ``progress=``.

:func:`~gauss_flows.train_flow`, :func:`~gauss_flows.fit_rbig`,
:func:`~gauss_flows.fit_rbig_coupling` and :func:`~gauss_flows.fit_density` take
``progress``: ``True`` or ``False`` decide, and ``None`` (their default) shows a bar
only where someone can watch it: when standard error is a terminal and the ``CI``
environment variable is not set (continuous-integration services set it). The bars are
tqdm's, written to standard error.

Example:
    >>> from gauss_flows._progress import show_progress
    >>> show_progress(True), show_progress(False)
    (True, False)

References:
    tqdm, https://tqdm.github.io (the progress bars); the ``CI`` variable as GitHub
    Actions, GitLab CI and most other services set it.
"""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["show_progress"]


def show_progress(progress: bool | None) -> bool:
    """Whether to show a progress bar for the setting ``progress``.

    Args:
        progress: ``True`` or ``False``; ``None`` for the automatic rule (a terminal on
            standard error and no ``CI`` environment variable).

    Raises:
        ValueError: If ``progress`` is neither a bool nor ``None``.

    Example:
        >>> from gauss_flows._progress import show_progress
        >>> show_progress(None) in (True, False)
        True
    """
    if progress is None:
        return not os.environ.get("CI") and _stderr_is_terminal()
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")
    return bool(progress)


def _stderr_is_terminal() -> bool:
    """Whether standard error is a terminal (``False`` when it is closed or replaced)."""
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False
