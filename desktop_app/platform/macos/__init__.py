"""platform/macos layer (see docs/architecture.md)."""
