"""The dispatcher: hands the outbox to Prefect (start or resume a case's run, start an advisory's or
the message retries' run) and brings crashed case runs back. `python -m dispatch`; any number may run.

It imports models/ and Prefect, never Flask: it serves no page.
"""
