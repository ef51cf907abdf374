"""Indicators: what the dashboard and the exports read. Never imports Dash."""
