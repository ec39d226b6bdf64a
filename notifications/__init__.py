"""Who is told about a case event, what they are told, and sending it through Apprise."""

from notifications.delivery import deliver_event, plan_deliveries
from notifications.sending import DeliveryFailed, GivenUp

__all__ = ["DeliveryFailed", "GivenUp", "deliver_event", "plan_deliveries"]
