"""Sanctions and PEP lists, screening, risk scoring, review cases and decisions."""
