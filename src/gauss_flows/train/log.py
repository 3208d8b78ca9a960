"""What :func:`~gauss_flows.train.train_flow` records while it trains.

Every ``log_every`` steps the loop records the minibatch loss of that step (taken before
the step's update) and the mean NLL of every monitored data set under the parameters of
that moment. :class:`TrainingLog` holds these records and how training ended.

Example:
    >>> import numpy as np
    >>> from gauss_flows.train import TrainingLog
    >>> log = TrainingLog(steps=np.array([0, 25]), loss=np.array([2.0, 1.5]))
    >>> log.steps.tolist(), log.loss.tolist()
    ([0, 25], [2.0, 1.5])
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["TrainingLog"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TrainingLog:
    """The records of one training run: losses, monitored NLLs and how it ended.

    Attributes:
        steps: Integer step index of every record: ``0, log_every, 2 * log_every, ...``.
        loss: The minibatch training loss (mean NLL of the minibatch, in nats) at every
            record, taken at that step before its update.
        monitored: Data set name -> mean NLL of that whole data set at every record,
            under the parameters of that step. A single ``val_data`` array is named
            ``"val_data"``; empty without ``val_data``.
        stopped_early: Whether early stopping (``patience``) ended training before its
            last step.
        best_step: With early stopping, the step of the returned parameters (the best on
            the first monitored data set); ``None`` without early stopping.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.train import TrainingLog
        >>> log = TrainingLog(
        ...     steps=np.array([0, 25, 50]),
        ...     loss=np.array([2.5, 1.9, 1.7]),
        ...     monitored={"val_data": np.array([2.4, 2.0, 2.1])},
        ...     stopped_early=True,
        ...     best_step=25,
        ... )
        >>> log["val_data"].tolist()
        [2.4, 2.0, 2.1]
        >>> int(log.steps[np.argmin(log["val_data"])]) == log.best_step
        True
    """

    steps: np.ndarray
    loss: np.ndarray
    monitored: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    stopped_early: bool = False
    best_step: int | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        """The NLL record of the monitored data set ``name``.

        Raises:
            KeyError: If no data set of that name was monitored; the message lists those
                that were.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.train import TrainingLog
            >>> log = TrainingLog(np.array([0]), np.array([1.0]), {"held out": np.array([1.2])})
            >>> log["held out"].tolist()
            [1.2]
        """
        try:
            return self.monitored[name]
        except KeyError:
            names = ", ".join(map(repr, self.monitored)) or "none (no val_data was given)"
            raise KeyError(f"no monitored data set named {name!r}; monitored: {names}") from None

    def __repr__(self) -> str:
        """One line: the records' span, first and last values, and how training ended.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.train import TrainingLog
            >>> TrainingLog(steps=np.array([0, 25]), loss=np.array([2.5, 1.7]))
            TrainingLog(2 records at steps 0..25, loss 2.5 -> 1.7, stopped_early=False, best_step=None)
        """
        ending = f"stopped_early={self.stopped_early}, best_step={self.best_step}"
        if len(self.steps) == 0:
            return f"TrainingLog(0 records, {ending})"
        parts = [
            f"{len(self.steps)} records at steps {self.steps[0]}..{self.steps[-1]}",
            f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}",
        ]
        parts += [f"{name} {v[0]:.4g} -> {v[-1]:.4g}" for name, v in self.monitored.items()]
        return f"TrainingLog({', '.join(parts)}, {ending})"
