"""The OTel resource (who is reporting) for our meter and tracer providers."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.util.types import AttributeValue

from .cardinality import valid_utf8

__all__ = ["service_resource"]


def service_resource(namespace: str, on_invalid: Callable[[int], None] | None = None) -> Resource:
    """``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` when set, else the namespace as the
    service name. (``Resource.create(attrs)`` would let ``attrs`` override the environment.)

    An attribute (name or value) that UTF-8 cannot encode, as undecodable bytes in the
    environment become, has the bad characters replaced by U+FFFD; ``on_invalid`` is told how
    many attributes were changed."""
    detected = Resource.create()
    detected, changed = _valid_attributes(detected)
    if changed and on_invalid is not None:
        on_invalid(changed)
    name = str(detected.attributes.get(SERVICE_NAME, ""))
    if name and not name.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: namespace}))


def _valid_attributes(resource: Resource) -> tuple[Resource, int]:
    clean: dict[str, AttributeValue] = {}
    changed = 0
    for key, value in resource.attributes.items():
        new_value: AttributeValue = value
        if isinstance(value, str):
            new_value = valid_utf8(value)
        elif isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
            new_value = tuple(valid_utf8(str(v)) for v in value)
            if new_value == tuple(value):
                new_value = value
        new_key = valid_utf8(key)
        if new_key is not key or new_value is not value:
            changed += 1
        clean[new_key] = new_value
    if not changed:
        return resource, 0
    return Resource(clean, resource.schema_url), changed
