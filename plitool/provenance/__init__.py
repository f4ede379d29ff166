"""Provenance and attribution: flows file, agent graph, item tables, attribution engine, exports."""
