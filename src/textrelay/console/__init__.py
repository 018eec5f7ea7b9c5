"""The web console: every message, callback and reply as it happens, and a handset to text
back from. Server-rendered HTML and a little plain JavaScript: no build step."""
