"""Filings: complaint drafts assembled from templates/ (law text lives there, not here)."""
