"""Path and query parameters shared by the routes, validated as the bodies are."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator
from starlette.convertors import Convertor, register_url_convertor

from app.api.inputs import Time, no_nul
from app.store.tables import ID_LENGTH


class IdConvertor(Convertor[str]):
    """Any text: Starlette's ``path`` converter (``.*``) stops at a line break, and an id holding
    one, which ingest stores, then had no route (a 404 for its offers, its profile, its erasure)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# Routes declare ids with the ``:id`` converter, so that an id holding "/" (sent percent-encoded,
# as a SKU such as "AB/12" must be) or a line break reaches its route whole.
register_url_convertor("id", IdConvertor())
PathId = Annotated[str, Path(min_length=1, max_length=ID_LENGTH), AfterValidator(no_nul)]
AsOf = Time | None
