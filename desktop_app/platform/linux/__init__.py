"""platform/linux layer (see docs/architecture.md)."""
