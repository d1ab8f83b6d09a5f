"""Outputs: figures and reports drawn from finished results (they read results, never train)."""
