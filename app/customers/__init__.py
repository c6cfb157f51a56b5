"""Knowing each client: the customer base as of a moment, profiles, segments, audiences, erasure
(the contact policy and campaigns go here too). Imports serving, training, store, ml."""
