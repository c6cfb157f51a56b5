"""Ingest: events, the catalogue and customers from validated rows, and the CSV importer with its
mapping rules. Imports store and ml."""
