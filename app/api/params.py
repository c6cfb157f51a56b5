"""Path and query parameters shared by the routes, validated as the bodies are."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from app.api.inputs import Time, no_nul
from app.store.tables import ID_LENGTH

# Routes declare ids with the ``:path`` converter, so that an id holding "/" (sent percent-encoded,
# as a SKU such as "AB/12" must be) reaches its route whole.
PathId = Annotated[str, Path(min_length=1, max_length=ID_LENGTH), AfterValidator(no_nul)]
AsOf = Time | None
