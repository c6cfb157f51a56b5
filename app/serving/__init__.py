"""Serving: the version this process serves (kept in step with the store's active pointer), its
activation, the offers decision (model, rules, fallbacks) and similar products. Never fits a model.
Imports store and ml."""
