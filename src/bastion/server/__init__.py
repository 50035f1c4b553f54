"""ASGI edge: app factory, routes, pure-ASGI middleware, error bodies."""
