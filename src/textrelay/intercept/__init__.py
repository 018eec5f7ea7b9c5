"""The intercepting proxy's certificate authority (docs/intercept.md)."""
