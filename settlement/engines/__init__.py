"""Pure engines of the settlement app: no Django imports, tested without a database."""
