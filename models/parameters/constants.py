"""Physical constants (CODATA 2018, exact SI values)."""

FARADAY = 96485.33212
"""Faraday constant F [C/mol]."""

GAS_CONSTANT = 8.314462618
"""Molar gas constant R [J/(mol K)]."""
