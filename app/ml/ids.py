"""Maps between external string ids and dense integer codes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt


class IdMap:
    def __init__(self, ids: Sequence[str]) -> None:
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = {v: i for i, v in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def get(self, key: str) -> int | None:
        return self.index.get(key)

    def codes(self, values: Iterable[str]) -> npt.NDArray[np.int64]:
        """Codes of known values; -1 for unknown ones."""
        get = self.index.get
        return np.fromiter((get(v, -1) for v in values), dtype=np.int64)

    @classmethod
    def encode(cls, values: Sequence[str]) -> tuple[IdMap, npt.NDArray[np.int64]]:
        """A map over the sorted distinct values, and each value's code."""
        uniques, inverse = np.unique(np.asarray(values, dtype=object), return_inverse=True)
        return cls([str(u) for u in uniques]), inverse.astype(np.int64)
