"""Maps between external string ids and dense integer codes."""

from __future__ import annotations

from collections.abc import Sequence


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
