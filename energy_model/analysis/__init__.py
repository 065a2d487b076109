"""Analysis layer: what a solved network means (metrics) and the independent Pyomo cross-check."""
