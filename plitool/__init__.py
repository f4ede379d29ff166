"""plitool: evidence vault, provenance and filings for personal-information public-interest litigation.

The package is a typed library that never prints; the command line lives in :mod:`plitool.cli`.
"""

__version__ = "0.1.0"
