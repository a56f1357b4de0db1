"""The test suite; it mirrors the genjax package (see tests/conftest.py)."""
