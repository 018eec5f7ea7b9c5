"""Webhook transport: signed HTTP requests to the app, every attempt recorded."""
