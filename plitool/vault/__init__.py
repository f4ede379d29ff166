"""The evidence vault: case workspace, hashing, store, custody ledger, verification, check files."""
