"""Benchmarks of the limits stage (issue #6)."""
