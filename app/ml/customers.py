"""Each trained customer's sums, kept with the model so that serving folds in only what came later."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from app.ml.config import TrainConfig
from app.ml.ids import IdMap
from app.ml.lines import EMPTY, Lines, Sums, aged, merge, sums

I64 = npt.NDArray[np.int64]


@dataclass
class CustomerSums:
    """Sums of every line strictly before ``until_day``, ages counted back from ``day`` (the clock)."""

    ids: IdMap
    sums: Sums  # sorted by customer code
    day: float
    until_day: float
    indptr: I64 = field(init=False)  # each customer's first pair

    def __post_init__(self) -> None:
        self.indptr = np.searchsorted(self.sums.customer, np.arange(len(self.ids) + 1)).astype(np.int64)

    @classmethod
    def build(
        cls, lines: Lines, customer_ids: list[str], config: TrainConfig, day: float, until_day: float
    ) -> CustomerSums:
        """From lines whose ages count back from ``day``."""
        return cls(IdMap(customer_ids), sums(lines, config), day, until_day)

    def of(self, code: int) -> Sums:
        return self.sums.take(slice(int(self.indptr[code]), int(self.indptr[code + 1])))

    def at(self, customer_id: str, clock: float, later: Lines, config: TrainConfig) -> Sums:
        """The customer's sums as of ``clock``: their trained sums aged from the training clock, merged
        with ``later`` (their lines from ``until_day`` on, ages counted back from ``clock``)."""
        code = self.ids.get(customer_id)
        trained = EMPTY if code is None else aged(self.of(code), clock - self.day, config)
        if len(later) == 0:  # the usual case: nothing bought since training
            return trained
        # One customer: their code in either part does not matter, so both are set to 0.
        return merge(_alone(trained), _alone(sums(later, config)))


def _alone(s: Sums) -> Sums:
    return replace(s, customer=np.zeros(len(s), dtype=np.int64))
