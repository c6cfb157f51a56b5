"""The one place settings are read: environment variables prefixed ``NBO_``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.ml.config import TrainConfig

SCOPES = frozenset({"read", "write", "admin"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NBO_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    database_url: str = "sqlite:///./var/nbo.db"
    models_dir: Path = Path("./models")
    # JSON object: key -> list of scopes. Empty: the service runs open (embedded default).
    api_keys: Annotated[dict[str, frozenset[str]], NoDecode] = Field(default_factory=dict)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Seconds a worker may take to answer its supervisor's ping (and to start) before it is replaced.
    worker_healthcheck_seconds: int = Field(default=30, ge=1)

    # Ingest limits.
    max_batch_events: int = 1000
    max_body_bytes: int = 4 * 1024 * 1024
    max_future_skew_days: float = 1.0
    # Requests a second each API key may make on average (0: no limit), and its burst (0: the rate).
    rate_limit_per_second: float = 0.0
    rate_limit_burst: float = 0.0

    # The demo's data, imported by `nbo demo` (`make run`) into an empty store; never by `nbo serve`.
    sample_data: Path | None = Path(__file__).resolve().parent.parent / "data" / "online_retail_sample.csv.gz"
    train_on_start: bool = True

    # A version still training after this long was left by a stopped process: marked failed at start.
    training_timeout_seconds: float = 3600.0
    # A running job renews its claim every third of this; one not renewed this long is taken over.
    training_lease_seconds: float = 30.0

    # A purchase of an offered product this many days after the offer is its conversion.
    attribution_days: float = Field(default=7.0, gt=0)

    # A version is trained on the store as it is once the newest is this many hours old (0: never).
    retrain_every_hours: float = Field(default=24.0, ge=0)
    # Whether `nbo serve` processes keep that schedule (false where `nbo train --schedule` does).
    retrain_in_serve: bool = True

    # How often a serving process checks which model version is active.
    model_poll_seconds: float = 2.0

    log_level: str = "info"
    gil_switch_interval: float = 0.0005

    # Training and ranking parameters, e.g. NBO_TRAIN__FACTORS=64, NBO_TRAIN__MONETARY_WEIGHT=0.3.
    train: TrainConfig = Field(default_factory=TrainConfig)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, raw: Any) -> Any:
        if raw is None or raw == "":
            return {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"NBO_API_KEYS is not valid JSON: {exc.msg}") from exc
        if not isinstance(raw, dict):
            raise ValueError("NBO_API_KEYS must be a JSON object mapping each key to a list of scopes")
        for key, scopes in raw.items():
            if not isinstance(scopes, list | tuple | set | frozenset) or not set(scopes) <= SCOPES:
                raise ValueError(f"NBO_API_KEYS[{key!r}] must be a list drawn from {sorted(SCOPES)}")
        return {k: frozenset(v) for k, v in raw.items()}

    @field_validator("sample_data", mode="before")
    @classmethod
    def _empty_is_none(cls, raw: Any) -> Any:
        return None if raw == "" else raw


@lru_cache
def get_settings() -> Settings:
    return Settings()
