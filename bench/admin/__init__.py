"""Admin API overview and audit search over a million call records."""
