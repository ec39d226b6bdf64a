"""Control Room's shared core: settings, tables and domain rules. Imports neither Flask nor Prefect."""

from models.case import Case, CaseEvent, Delivery, DeliveryStatus, Outbox, Priority
from models.config import Settings
from models.db import Base, get_engine, get_sessionmaker
from models.directory import Block, Category, Department, Role, User, Village
from models.lifecycle import Action, InvalidTransition, State, Step

__all__ = [
    "Action",
    "Base",
    "Block",
    "Case",
    "CaseEvent",
    "Category",
    "Delivery",
    "DeliveryStatus",
    "Department",
    "InvalidTransition",
    "Outbox",
    "Priority",
    "Role",
    "Settings",
    "State",
    "Step",
    "User",
    "Village",
    "get_engine",
    "get_sessionmaker",
]
