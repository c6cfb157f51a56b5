"""HTTP plumbing under the routes: API keys and scopes, body size and rate limits, the error body,
and the dependencies routes declare. Imports only the shared modules (config, db)."""
