"""Provenance: the agent graph, the item tables and leak attribution."""
