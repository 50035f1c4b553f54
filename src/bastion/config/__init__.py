"""The configuration file (CONTRACT.md §2): schema, loading, reload, JSON Schema."""

from bastion.config.loader import config_json_schema, config_path_from, load_config, reload_config
from bastion.config.schema import BastionConfig

__all__ = [
    "BastionConfig",
    "config_json_schema",
    "config_path_from",
    "load_config",
    "reload_config",
]
