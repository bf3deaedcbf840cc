"""Synthetic series with known anomalies: the AnomLLM-style and VisualTimeAnomaly-style
generators, where their anomalies are placed, and the family registry over them."""
