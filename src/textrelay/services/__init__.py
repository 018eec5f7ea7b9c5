"""Use cases. Each module owns its transactions; the API and console call only these."""
