"""Trusted timestamps: RFC 3161 requests and verdicts, seals over the ledger, trust roots, proofs."""
