"""Pydantic models of every kind, condition helpers and constants. Pure: no I/O."""
