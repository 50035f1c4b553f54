"""Admin web console: server-rendered pages under ``/console`` on the admin port.

``app.Console`` (the ASGI app, login and sessions), ``page`` (what a page is: its
navigation entry, the admin API routes it needs, its actions), ``views/`` (one module
per page), ``templates/`` and ``static/`` (Jinja2 with autoescape; CSS only, no inline
script or style). Pages call the admin API's route functions, so roles and audited
changes are the API's own.
"""
