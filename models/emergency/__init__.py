"""Emergencies: an urgent case handed at once to the admission officer on duty, and admissions."""
