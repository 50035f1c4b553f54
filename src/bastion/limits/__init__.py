"""Rate limits and budgets: admit, reserve, settle."""
