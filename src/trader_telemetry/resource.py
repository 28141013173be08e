"""The OTel resource (who is reporting) for our meter and tracer providers."""

from __future__ import annotations

from opentelemetry.sdk.resources import SERVICE_NAME, Resource

__all__ = ["service_resource"]


def service_resource(namespace: str) -> Resource:
    """``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` when set, else the namespace as the
    service name. (``Resource.create(attrs)`` would let ``attrs`` override the environment.)"""
    detected = Resource.create()
    name = str(detected.attributes.get(SERVICE_NAME, ""))
    if name and not name.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: namespace}))
