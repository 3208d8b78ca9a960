"""Shared plot styling for the examples (the seed notebook's ``_style`` helpers)."""

from __future__ import annotations

import matplotlib.axes

SCATTER_KW = dict(s=4, alpha=0.35, linewidths=0, color="tab:blue")


def style_ax(ax: matplotlib.axes.Axes) -> matplotlib.axes.Axes:
    """Light grid, no top/right spines: the look of every figure in the examples."""
    ax.grid(True, alpha=0.25, lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
