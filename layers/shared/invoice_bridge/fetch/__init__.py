"""Fetch: scheduled, incremental, budgeted sync of Spiris customer invoices with explained selection."""
