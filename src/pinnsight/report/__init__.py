"""The report tier: plots (matplotlib, Agg, PNG) and the one-page HTML/Markdown reports."""
