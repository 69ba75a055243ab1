"""Routing: who may take which task, and in which order (rules.py is pure)."""
