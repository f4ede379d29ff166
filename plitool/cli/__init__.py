"""The click command line: thin wrappers over the library. rich is imported only in here."""
