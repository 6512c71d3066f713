"""Batch planning: many instances in parallel, a SQLite run ledger, rolling weeks."""
