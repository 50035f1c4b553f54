"""Audit: one record per call, written off the hot path in group commits."""
