"""The HTTP API: routes, what they take and answer, and the OpenAPI document and its pages. A route
validates, calls one function of the packages below and shapes the answer. Imports web, customers,
serving, training, ingest, store and the shared modules."""
