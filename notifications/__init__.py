"""Who is told about a case event, what they are told, and sending it through Apprise."""

from notifications.delivery import DeliveryFailed, deliver_event, plan_deliveries, send_delivery

__all__ = ["DeliveryFailed", "deliver_event", "plan_deliveries", "send_delivery"]
