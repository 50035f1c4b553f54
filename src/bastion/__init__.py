"""Bastion: a governance gateway in front of the OpenAI API and compatible providers."""

__version__ = "0.1.0"
