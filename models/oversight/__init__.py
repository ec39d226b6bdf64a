"""The Collector's oversight: the escalation ladder, the audit log, the dashboard, the daily report."""
