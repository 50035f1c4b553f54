"""The admin API (``/admin/api/...`` on the admin port): routes by concern, one
permission table, errors in the OpenAI shape, an OpenAPI document (CONTRACT.md §3)."""
