"""The liquidity provider pool: per-currency balances, thresholds, rebalancing and FX legs."""
