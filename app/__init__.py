"""nbo, a next-best-offer service. Its packages, in the order data flows; each imports only those
after it (tests/test_layout.py checks it):

dashboard (the pages at /dashboard) → api (routes, the contract)
→ web (HTTP plumbing) → derived (the app's derived state) → customers
→ serving → training → ingest → store (all SQL) → ml (pure numpy/scipy/implicit).

The files at the top: config, db, clock, metrics and logs are shared by all but ml; main, cli and
migrate put the rest together.
"""
