"""OAuth tests against real peers (a package, so its conftest never shadows tests/conftest.py)."""
