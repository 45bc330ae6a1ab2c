"""The edges: CLI, HTTP, settings, logging, and the composition root that wires them."""
