"""Algorithms that interleave building and solving (column generation)."""
