"""platform/windows layer (see docs/architecture.md)."""
