"""Every setting is documented in the README's configuration table, with the default the code has."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from app.config import Settings
from app.ml.config import TrainConfig

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(NBO_[A-Z_]+)` \| `([^`]*)` \|", re.MULTILINE)


def documented() -> dict[str, str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return dict(ROW.findall(section))


def same(written: str, default: Any) -> bool:
    if isinstance(default, bool):
        return written == str(default).lower()
    if isinstance(default, int | float):
        return float(written) == float(default)
    if isinstance(default, Path):  # written relative to the project
        return default == Path(written) or str(default).endswith(written)
    if isinstance(default, dict):
        return written == "empty" and not default
    return written == str(default)


def test_every_setting_is_documented_with_its_real_default() -> None:
    table = documented()
    defaults: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        if name == "train":
            continue
        defaults[f"NBO_{name.upper()}"] = field.get_default(call_default_factory=True)
    train = TrainConfig()
    for f in dataclasses.fields(train):
        defaults[f"NBO_TRAIN__{f.name.upper()}"] = getattr(train, f.name)
    missing = sorted(set(defaults) - set(table))
    assert not missing, f"undocumented settings: {missing}"
    stale = sorted(set(table) - set(defaults))
    assert not stale, f"documented but not settings: {stale}"
    wrong = {k: (table[k], defaults[k]) for k in defaults if not same(table[k], defaults[k])}
    assert not wrong, f"README default differs from the code: {wrong}"
