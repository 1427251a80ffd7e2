"""Pure engines of the fxrates app: no Django imports, tested without a database."""
