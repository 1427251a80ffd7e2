"""Pure engines of the liquidity app: no Django imports, tested without a database."""
