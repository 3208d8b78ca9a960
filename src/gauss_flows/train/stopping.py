"""When training ends before its last step: early stopping and a time budget.

:class:`EarlyStopping` watches a held-out NLL at every record and keeps the parameters
with the lowest value seen; :class:`TimeBudget` measures the seconds since training
began. The training loop asks both after every record.

References:
    Prechelt, L. (1998). Early stopping -- but when? In Neural Networks: Tricks of the
    Trade, LNCS 1524, 55-69.

Example:
    >>> from gauss_flows.train.stopping import EarlyStopping
    >>> stopping = EarlyStopping(patience_records=1, params="start")
    >>> stopping.update(2.0, "step 0", step=0), stopping.update(2.5, "step 25", step=25)
    (False, True)
"""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["EarlyStopping", "TimeBudget"]


class EarlyStopping:
    """Stop once a watched value has not improved for ``patience_records`` records.

    The value recorded with some parameters is the held-out NLL of those parameters, so
    the best parameters are those recorded with the lowest value. Until a value beats
    ``inf`` (a NaN or inf never does), the best are the starting ``params``, at step 0.

    Args:
        patience_records: Records in a row without improvement that stop training.
        params: The starting parameters.

    Attributes:
        best_value: Lowest value recorded (``inf`` until one is finite).
        best_params: The parameters recorded with it.
        best_step: Their step.
        stopped: Whether :meth:`update` has called for a stop.

    Example:
        >>> from gauss_flows.train.stopping import EarlyStopping
        >>> stopping = EarlyStopping(patience_records=2, params="p0")
        >>> [stopping.update(v, f"p{i}", step=i) for i, v in enumerate([3.0, 2.0, 2.5, 2.1])]
        [False, False, False, True]
        >>> stopping.best_params, stopping.best_step
        ('p1', 1)
    """

    def __init__(self, patience_records: int, params: Any):
        self.patience_records = patience_records
        self.best_value = math.inf
        self.best_params = params
        self.best_step = 0
        self.stopped = False
        self._since_best = 0

    def update(self, value: float, params: Any, step: int) -> bool:
        """Record ``value``, the watched NLL of ``params`` at ``step``; whether to stop.

        Args:
            value: The watched value of ``params``.
            params: The parameters it was measured on.
            step: Their step.

        Returns:
            ``True`` once ``patience_records`` records in a row have not improved on the
            best value.

        Example:
            >>> from gauss_flows.train.stopping import EarlyStopping
            >>> EarlyStopping(patience_records=1, params=None).update(1.0, None, step=0)
            False
        """
        if value < self.best_value:
            self.best_value, self.best_params, self.best_step = value, params, step
            self._since_best = 0
        else:
            self._since_best += 1
        self.stopped = self._since_best >= self.patience_records
        return self.stopped

    def choose(self, value: float, params: Any, step: int) -> tuple[Any, int]:
        """The better of the best recorded parameters and the last ones, with its step.

        The last parameters (``params`` at ``step``, with watched value ``value``) win
        only if they are strictly better than every record.

        Args:
            value: The watched value of the last parameters.
            params: The last parameters.
            step: Their step.

        Returns:
            ``(params, step)`` of the chosen parameters.

        Example:
            >>> from gauss_flows.train.stopping import EarlyStopping
            >>> stopping = EarlyStopping(patience_records=1, params="p0")
            >>> stopping.update(2.0, "p0", step=0)
            False
            >>> stopping.choose(1.5, "last", step=10), stopping.choose(2.5, "last", step=10)
            (('last', 10), ('p0', 0))
        """
        if value < self.best_value:
            return params, step
        return self.best_params, self.best_step


class TimeBudget:
    """Seconds of training allowed, counted from construction; ``None`` allows any time.

    Args:
        seconds: The budget, or ``None`` for none.

    Example:
        >>> from gauss_flows.train.stopping import TimeBudget
        >>> TimeBudget(3600.0).expired(), TimeBudget(None).expired()
        (False, False)
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self._start = time.perf_counter()

    def expired(self) -> bool:
        """Whether more than the budget's seconds have passed since it was made.

        Example:
            >>> from gauss_flows.train.stopping import TimeBudget
            >>> TimeBudget(1e-9).expired()
            True
        """
        return self.seconds is not None and time.perf_counter() - self._start > self.seconds
