"""Figures (PNG) for explanations."""
