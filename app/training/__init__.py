"""Training: the pipeline as pure steps over ml (fit, evaluate, tune, gate), the job runner with its
claim across processes, and the first run. Never answers a request. Imports ingest, store, ml."""
