"""Policy: principal + request facts + findings → decision (pure)."""
