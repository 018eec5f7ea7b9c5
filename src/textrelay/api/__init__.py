"""The Twilio-compatible HTTP surface: parse the request, call a service, render JSON."""
