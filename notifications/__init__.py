"""Who is told about a case event, what they are told, and sending it through Apprise."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifications.delivery import deliver_event, plan_deliveries
    from notifications.sending import DeliveryFailed, GivenUp

# Imported on first use (PEP 562): the demo mail sink, one module of this package, then holds
# neither Apprise nor the app's models (12 MB less in that process: 64 -> 52 MB RSS).
_EXPORTS = {
    "deliver_event": "notifications.delivery",
    "plan_deliveries": "notifications.delivery",
    "DeliveryFailed": "notifications.sending",
    "GivenUp": "notifications.sending",
}
__all__ = ["DeliveryFailed", "GivenUp", "deliver_event", "plan_deliveries"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
