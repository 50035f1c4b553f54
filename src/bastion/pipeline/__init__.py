"""Orchestration only: the phases of one call in order, request context, stream relay."""
