"""Participants (banks, settlement accounts), clearing windows, positions, netting and the ledger."""
