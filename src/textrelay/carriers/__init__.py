"""Carriers: where outbound messages go (the simulator by default)."""
