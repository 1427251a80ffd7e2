"""Screening lists, checks and review cases (built with the compliance issue)."""
