"""The package's version: the one place it is written (pyproject reads it; package.json
repeats it)."""

__version__ = "0.1.0"
