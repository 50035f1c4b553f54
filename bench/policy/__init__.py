"""Policy evaluation benchmark: how long one decision takes with a large policy."""
