"""Analysis: verb-noun structure (§5.4) and every figure."""
