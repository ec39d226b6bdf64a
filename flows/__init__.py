"""Prefect flows. Imports models and notifications, never the web app."""
