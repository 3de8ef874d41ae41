"""Email: templates, the outbox and its delivery by the worker."""
