"""Admin web console (server-rendered pages)."""
