"""Proof under stress, re-run by one command: ``python -m bench.reliability`` (results in
bench/results/reliability.md). Each part runs real ``nbo serve`` processes on loopback, bounded in
time, against a throwaway database: fuzzing of every operation (fuzz.py), exactly-once ingest while
the server is SIGKILLed (exactly_once.py), and every operation under every scope (scopes.py).
tests/stress/ runs each at a smaller size, so CI re-runs them on every change."""
