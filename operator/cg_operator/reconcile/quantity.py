"""Kubernetes resource quantities as numbers (see api/quantity.py, where the models use it too)."""

from __future__ import annotations

from cg_operator.api.quantity import parse_quantity

__all__ = ["parse_quantity"]
