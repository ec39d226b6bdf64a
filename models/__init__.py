"""Control Room's ground floor: settings, tables and domain rules, one package per capability.

Imports neither Flask nor Prefect. Importing `models` registers every table (and the case
search's index DDL) on `Base.metadata`, so `create_all` and the mappers see the whole schema
whatever was imported first.
"""

from importlib import import_module

TABLES = (
    "models.outbox",
    "models.processes",
    "models.messages",
    "models.reference.tables",
    "models.cases.tables",
    "models.cases.search",  # the text-search index DDL, attached to the cases table
    "models.desk.tables",
    "models.duty.tables",
    "models.emergency.tables",
    "models.homecare.tables",
    "models.oversight.tables",
    "models.advisories.tables",
    "models.access.tables",
    "models.api.tables",
)
for _module in TABLES:
    import_module(_module)
