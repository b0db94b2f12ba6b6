"""Insight stage: knowledge risk, hotspots and change coupling from the stored history (pandas)."""
