"""Evaluation: generation, metrics and scorers, benchmark sets, harness/AlpacaEval runs, the judge."""
