"""Pure compliance engines: list parsing, name screening and the risk score (no Django imports)."""
