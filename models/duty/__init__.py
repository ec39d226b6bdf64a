"""The duty roster: who holds which duty (hospital admission, duty doctor) by shift."""
