"""Complaints: the case tables, the state machine, decisions, time limits, the list and its search."""
