"""Control Room's shared core: settings, tables and domain rules. Imports neither Flask nor Prefect."""

from models.advisory import Advisory, AdvisoryDelivery
from models.case import Case, CaseEvent, Delivery, DeliveryStatus, Outbox, Priority
from models.config import Settings
from models.db import Base, get_engine, get_sessionmaker
from models.desk import Call, CallKind
from models.directory import Block, Category, Department, Role, User, Village
from models.duty import Admission, Duty, DutyShift
from models.isolation import (
    FollowUp,
    FollowUpStatus,
    Patient,
    PatientStatus,
    Reading,
    Symptom,
    VitalThreshold,
)
from models.lifecycle import Action, InvalidTransition, State, Step
from models.oversight import AuditEntry, Escalation, EscalationRung

__all__ = [
    "Action",
    "Admission",
    "Advisory",
    "AdvisoryDelivery",
    "Duty",
    "DutyShift",
    "FollowUp",
    "FollowUpStatus",
    "Patient",
    "PatientStatus",
    "Reading",
    "Symptom",
    "VitalThreshold",
    "AuditEntry",
    "Call",
    "CallKind",
    "Escalation",
    "EscalationRung",
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
