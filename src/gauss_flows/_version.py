"""The package version, in a module of its own so any module can read it."""

#: The package version, as a PEP 440 string.
__version__ = "0.1.0"
