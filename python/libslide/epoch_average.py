"""The running mean of a model's weights at epoch ends that Network.fit(average=...) offers as a candidate
model next to the live weights (an epoch-level form of Polyak averaging and of stochastic weight averaging,
Izmailov et al. 2018). Kept apart from fit, as PlateauRule, so that bench/vs_torch.py applies the very
same rule to every implementation: it sees parameters as lists of float32 numpy arrays only.

The rule: after each epoch the live weights join the mean; the watched P@1 of both is measured; when the
mean is not better than the live weights it restarts from them (training has moved on, older epochs only
hold it back). So while a model still improves epoch by epoch the mean is the live weights, and once it
oscillates around a plateau the mean gathers those epochs."""

from __future__ import annotations

import numpy as np


class EpochAverage:
    """mean: the running mean (a list of float32 arrays, this object's own) of the `count` parameter sets
    added since the last restart."""

    def __init__(self):
        self.mean: list[np.ndarray] | None = None
        self.count = 0

    def restart(self, params) -> None:
        """The mean restarts as a copy of `params` (count 1)."""
        self.mean = [np.array(p, dtype=np.float32, copy=True) for p in params]
        self.count = 1

    def reset(self) -> None:
        """Empties the mean: the next add() restarts it."""
        self.mean, self.count = None, 0

    def add(self, params) -> None:
        """`params` join the mean (the first call restarts it)."""
        if self.mean is None:
            self.restart(params)
            return
        self.count += 1
        for m, p in zip(self.mean, params):
            # incremental mean in place: m += (p - m) / count, exact for count 1 and float32-rounded after
            m += (np.asarray(p, dtype=np.float32) - m) * np.float32(1.0 / self.count)

    def settle(self, live, live_p1: float, mean_p1: float) -> bool:
        """Whether the mean is this epoch's candidate model, given the watched P@1 of the live weights
        (`live`, just added) and of the mean: it is when it is above the live weights'. Otherwise the
        mean restarts from the live weights."""
        if self.count > 1 and mean_p1 > live_p1:
            return True
        if self.count > 1:
            self.restart(live)
        return False
