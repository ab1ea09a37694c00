"""Recurrence data tools: building the picking set from the real-grounded areas file."""
