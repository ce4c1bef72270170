"""Thin kopf handlers, one module per kind, plus the operator's start-up settings."""
