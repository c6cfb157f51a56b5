"""A model version on disk: self-contained (arrays, id maps, settings, metrics) and checksummed.

Written to a temporary folder beside the target and renamed into place, so a reader sees a whole
version or none. Loading verifies every file against the manifest and refuses a version that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.ids import IdMap
from app.ml.lines import Sums
from app.ml.model import Model

MANIFEST = "manifest.json"
FORMAT = 2
SUM_FIELDS = ("customer", "product", "orders", "spend", "repeat", "bought", "last_age")


class ArtifactError(Exception):
    """The version on disk is missing, incomplete or does not match its checksum."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save(model: Model, folder: Path, meta: dict[str, Any]) -> str:
    """Write ``model`` to ``folder`` atomically; returns the version's checksum."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        raise ArtifactError(f"{folder} exists already")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        arrays: dict[str, Any] = {
            "popularity": model.popularity,
            "neighbours_data": model.neighbours.data,
            "neighbours_indices": model.neighbours.indices,
            "neighbours_indptr": model.neighbours.indptr,
            **{f"sums_{name}": getattr(model.customers.sums, name) for name in SUM_FIELDS},
        }
        if model.item_factors is not None and model.gram is not None:
            arrays["item_factors"] = model.item_factors
            arrays["gram"] = model.gram
        if model.cycles is not None:
            arrays["cycles"] = model.cycles
        for country, codes in model.country_popular.items():
            arrays[f"country:{country}"] = codes
        with (tmp / "arrays.npz").open("wb") as f:
            np.savez(f, **arrays)
        (tmp / "products.json").write_text(json.dumps(model.product_ids))
        (tmp / "customers.json").write_text(json.dumps(model.customers.ids.ids))
        clock = {"day": model.customers.day, "until_day": model.customers.until_day}
        (tmp / "meta.json").write_text(
            json.dumps(
                {**meta, "format": FORMAT, "config": model.config.to_dict(), "customers": clock},
                default=str,
                indent=2,
            )
        )
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        checksum = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        (tmp / MANIFEST).write_text(json.dumps({"files": files, "checksum": checksum}, indent=2))
        for p in tmp.iterdir():
            with p.open("rb") as f:
                os.fsync(f.fileno())
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return checksum


def remove_partial(models_dir: Path, keep: set[str]) -> list[str]:
    """Remove the temporary folders that jobs killed while saving left behind (``.{version}.*``),
    except those of the versions in ``keep`` (still being written); returns the folders removed."""
    removed: list[str] = []
    if not models_dir.is_dir():
        return removed
    for path in models_dir.iterdir():
        version = path.name[1:].partition(".")[0]
        if path.name.startswith(".") and path.is_dir() and version not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def customer_ids(folder: Path) -> list[str]:
    """The customers a version was trained on (without loading the rest)."""
    try:
        ids = json.loads((folder / "customers.json").read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{folder.name}: no readable customer list ({exc})") from exc
    return [str(i) for i in ids]


def remove(models_dir: Path, versions: list[str]) -> None:
    for version in versions:
        shutil.rmtree(models_dir / version, ignore_errors=True)


def verify(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{folder.name}: no readable manifest ({exc})") from exc
    if hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest() != manifest.get("checksum"):
        raise ArtifactError(f"{folder.name}: manifest checksum mismatch")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise ArtifactError(f"{folder.name}/{name}: missing or checksum mismatch")
    return dict(manifest)


def load(folder: Path) -> tuple[Model, dict[str, Any]]:
    """Load a verified version; raises ArtifactError for anything not exactly as written."""
    verify(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ArtifactError(f"{folder.name}: format {meta.get('format')}, this nbo reads {FORMAT}")
        product_ids = json.loads((folder / "products.json").read_text())
        customer_ids = json.loads((folder / "customers.json").read_text())
        with np.load(folder / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        n = len(product_ids)
        neighbours = sp.csr_matrix(
            (arrays["neighbours_data"], arrays["neighbours_indices"], arrays["neighbours_indptr"]),
            shape=(n, n),
        )
        model = Model(
            config=TrainConfig.from_dict(meta["config"]),
            product_ids=product_ids,
            item_factors=arrays.get("item_factors"),
            gram=arrays.get("gram"),
            neighbours=neighbours,
            popularity=arrays["popularity"],
            customers=CustomerSums(
                IdMap(customer_ids),
                Sums(*(arrays[f"sums_{name}"] for name in SUM_FIELDS)),
                float(meta["customers"]["day"]),
                float(meta["customers"]["until_day"]),
            ),
            country_popular={k.partition(":")[2]: v for k, v in arrays.items() if k.startswith("country:")},
            cycles=arrays.get("cycles"),
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{folder.name}: unreadable ({exc})") from exc
    return model, meta
