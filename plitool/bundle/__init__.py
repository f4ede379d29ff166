"""The court-ready exhibit bundle and its independent check."""
