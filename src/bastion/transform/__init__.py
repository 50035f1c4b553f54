"""Transforms: carry a decision out on the request and restore on the response."""
