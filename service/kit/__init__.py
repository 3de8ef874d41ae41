"""Plumbing shared by every domain: configuration, database, embedded servers, security, i18n, templating, SMTP.

Plumbing imports no domain (docs/architecture.md, enforced by `make lint`).
"""
