"""Evaluation: the protocol's categories x seeds loop, metrics and reports."""
