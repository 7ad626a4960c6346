"""The stack program's name for the one config base (defined with the components, which use it too)."""

from components.config_model import ConfigModel

__all__ = ["ConfigModel"]
