"""Scrutiny: social care inspection reports, minutes and news as a statement-level evidence base."""

__version__ = "0.1.0"
