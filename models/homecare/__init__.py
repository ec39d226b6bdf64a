"""Home isolation: the register of patients, each day's follow-up calls, readings and red flags."""
