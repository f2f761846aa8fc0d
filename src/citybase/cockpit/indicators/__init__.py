"""Indicators (指标): baselines, yearly targets, reported actuals and progress against the path."""
