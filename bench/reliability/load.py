"""A load of HTTP requests from client threads, every answer kept (when it was sent, how long it
took, its status, error code and model version), for the parts that judge answers one by one."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

# One request: sends it with the client and the thread's own seeded random numbers; the kind of
# request and the answer (None: no answer, the client gave up or the connection failed).
Request = Callable[[httpx.Client, random.Random], tuple[str, httpx.Response | None]]


@dataclass(frozen=True)
class Answer:
    kind: str
    sent: float  # time.monotonic() when sent
    took: float  # seconds
    status: int | None  # None: no answer
    code: str | None = None  # the error body's code
    version: str | None = None  # the answer's model_version


def answer_of(kind: str, sent: float, r: httpx.Response | None) -> Answer:
    took = time.monotonic() - sent
    if r is None:
        return Answer(kind, sent, took, None)
    code = version = None
    if r.headers.get("content-type", "").startswith("application/json") and r.content:
        body = r.json()
        if isinstance(body, dict):
            error = body.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            version = body.get("model_version")
    return Answer(kind, sent, took, r.status_code, code, version)


class Load:
    """Client threads sending requests until stopped; ``rate`` (requests/s over all threads) paces
    them, else each sends its next request when its last one is answered."""

    def __init__(
        self,
        base: str,
        requests: Sequence[tuple[float, Request]],
        *,
        threads: int,
        seed: int,
        rate: float | None = None,
    ) -> None:
        self.base, self.threads, self.seed, self.rate = base, threads, seed, rate
        self.weights = [w for w, _ in requests]
        self.requests = [r for _, r in requests]
        self.answers: list[Answer] = []  # list.append is atomic: no lock
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def _run(self, k: int) -> None:
        rng = random.Random(self.seed * 1000 + k)
        every = self.threads / self.rate if self.rate else 0.0
        due = time.monotonic() + rng.uniform(0, every)
        with httpx.Client(base_url=self.base) as http:
            while not self._stop.is_set():
                if every:
                    if (pause := due - time.monotonic()) > 0 and self._stop.wait(pause):
                        return
                    due = max(due + every, time.monotonic() - 1.0)  # catch up, but not by bursts
                sent = time.monotonic()
                (request,) = rng.choices(self.requests, self.weights)
                kind, r = request(http, rng)
                self.answers.append(answer_of(kind, sent, r))


def send(
    http: httpx.Client, method: str, path: str, timeout: float = 10.0, **kw: Any
) -> httpx.Response | None:
    """The answer, or None when there was none within ``timeout`` or the connection failed."""
    try:
        return http.request(method, path, timeout=timeout, **kw)
    except httpx.HTTPError:
        return None


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and the maximum, in milliseconds."""
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1] * 1000, 1)}


def outcomes(answers: Sequence[Answer]) -> dict[str, int]:
    """Answers by status (and error code), for the report."""
    return dict(
        sorted(
            Counter(
                "no answer" if a.status is None else f"{a.status}" + (f" {a.code}" if a.code else "")
                for a in answers
            ).items()
        )
    )
