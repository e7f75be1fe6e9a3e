"""The installed version of credctl."""

__version__ = "0.1.0.dev0"
