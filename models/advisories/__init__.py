"""Health advisories: one message to many patients, each recipient's delivery recorded."""
