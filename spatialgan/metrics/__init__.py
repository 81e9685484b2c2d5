"""Evaluation metrics; each returns a dict with its value and the protocol used."""
