"""The call desk: every call an operator takes, and the field directory of each village."""
