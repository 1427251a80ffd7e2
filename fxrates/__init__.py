"""Currencies, FX rates, their history, conversion and the volatility simulation."""
