"""Delivery types, one module each behind one interface (base.Delivery). Pure."""

from __future__ import annotations

from cg_operator.api.component import OfferingType
from cg_operator.reconcile.delivery.base import Delivery
from cg_operator.reconcile.delivery.container import ContainerDelivery
from cg_operator.reconcile.delivery.saas import SaasDelivery

DELIVERIES: dict[OfferingType, Delivery] = {
    d.type: d for d in (ContainerDelivery(), SaasDelivery())
}


def delivery_for(offering_type: OfferingType) -> Delivery:
    """The delivery of an offering type (every OfferingType has one: a unit test checks)."""
    return DELIVERIES[offering_type]
