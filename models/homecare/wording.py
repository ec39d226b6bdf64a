"""How readings and red flags read in each language: the vitals' names, the emergency's description.

A reading's red flags are stored once, in English (the form `red_flags` writes), and shown in each
reader's language by `flag_label`. An emergency's description is stored as text in the language of
the operator who took the reading (the case list searches it), and shown to each reader told afresh
from the reading in the reader's language (`case_description`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.homecare.tables import Reading, Symptom

# Per language: a metric's label and its unit, as a flag or a description prints them.
METRICS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"spo2": ("SpO2", "%"), "temperature": ("Temperature", " °F"), "pulse": ("Pulse", "/min")},
    "hi": {"spo2": ("SpO2", "%"), "temperature": ("तापमान", " °F"), "pulse": ("नाड़ी", "/मिनट")},
}
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "follow_up": "Home-isolation follow-up of {name}: {vitals}.",
        "flags": "Red flags: {flags}.",
        "note": "Note: {note}",
        "conditions": "Conditions: {conditions}",
        "symptoms": "symptoms: {symptoms}",
        "no_readings": "no readings",
    },
    "hi": {
        "follow_up": "{name} का होम आइसोलेशन फ़ॉलो-अप: {vitals}।",
        "flags": "खतरे के संकेत: {flags}।",
        "note": "टिप्पणी: {note}",
        "conditions": "बीमारियाँ: {conditions}",
        "symptoms": "लक्षण: {symptoms}",
        "no_readings": "कोई माप नहीं",
    },
}
# A threshold flag as `threshold_flag` writes it in English: label, value and unit, then the rule.
STORED = {
    metric: re.compile(rf"{re.escape(label)} (?P<value>\S+?){re.escape(unit)} \((?P<rule>[<>]=? \S+)\)")
    for metric, (label, unit) in METRICS["en"].items()
}


def _language(language: str) -> str:
    return language if language in WORDS else "en"


def number(value: float) -> str:
    return f"{value:g}"


def words(language: str) -> dict[str, str]:
    """The description's sentences in language (English when unknown)."""
    return WORDS[_language(language)]


def vital(metric: str, value: float, language: str = "en") -> str:
    """One measurement as a person reads it: "SpO2 91%", "नाड़ी 96/मिनट"."""
    label, unit = METRICS[_language(language)][metric]
    return f"{label} {number(value)}{unit}"


def threshold_flag(metric: str, value: float, op: str, limit: float, language: str = "en") -> str:
    """A crossed threshold: "SpO2 88% (< 94)"."""
    return f"{vital(metric, value, language)} ({op} {number(limit)})"


def flag_label(flag: str, language: str, symptom_names: dict[str, str]) -> str:
    """A stored (English) red flag in language; symptom_names maps a symptom's English name to its own.

    A flag this cannot read (a symptom renamed since) is shown as it was written.
    """
    language = _language(language)
    if language == "en":
        return flag
    if flag in symptom_names:
        return symptom_names[flag]
    for metric, pattern in STORED.items():
        if match := pattern.fullmatch(flag):
            label, unit = METRICS[language][metric]
            return f"{label} {match['value']}{unit} ({match['rule']})"
    return flag


class SymptomName(Protocol):
    code: str
    name: str
    name_hi: str


def emergency_text(
    name: str, conditions: str, reading: Reading, symptom_rows: Iterable[SymptomName], language: str
) -> str:
    """What an emergency opened by a reading says, in language: the patient, the vitals, the red flags."""
    hindi = _language(language) == "hi"
    rows = list(symptom_rows)
    names = {s.code: (s.name_hi or s.name) if hindi else s.name for s in rows}
    by_english = {s.name: names[s.code] for s in rows}
    said = words(language)
    measured = (("spo2", reading.spo2), ("temperature", reading.temperature), ("pulse", reading.pulse))
    parts = [vital(metric, value, language) for metric, value in measured if value is not None]
    if reading.symptoms:
        parts.append(said["symptoms"].format(symptoms=", ".join(names.get(s, s) for s in reading.symptoms)))
    flags: Sequence[str] = reading.red_flags or []
    lines = [
        said["follow_up"].format(name=name, vitals="; ".join(parts) or said["no_readings"]),
        said["flags"].format(flags="; ".join(flag_label(f, language, by_english) for f in flags)),
    ]
    if reading.note:
        lines.append(said["note"].format(note=reading.note))
    if conditions:
        lines.append(said["conditions"].format(conditions=conditions))
    return "\n".join(lines)


def case_description(session: Session, case: Any, language: str) -> str:
    """A case's description for a reader of language: an emergency a reading opened is told from the
    reading in that language; any other case's description is what the caller said, as written."""
    if not (case.emergency and case.patient_id):
        return str(case.description)
    reading = session.scalar(select(Reading).where(Reading.case_id == case.id).order_by(Reading.id).limit(1))
    if reading is None:  # an emergency call the desk took for a patient: its words are the operator's
        return str(case.description)
    patient, symptoms = reading.patient, session.scalars(select(Symptom))
    return emergency_text(patient.name, patient.conditions, reading, symptoms, language)
