"""Cross-domain orchestration, above every domain: flows call the domains' services (docs/architecture.md)."""
