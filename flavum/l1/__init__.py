"""Ledgers (L1s): interface, EVM adapter, in-memory fake, ezkl verifier deployment."""
