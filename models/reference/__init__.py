"""Reference data kept as rows: departments, places, categories, users; loaded from CSV."""
