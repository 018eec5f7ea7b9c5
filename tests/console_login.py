"""Signing in to the web console through its login form, as a browser does: the form's CSRF
token first, then the credentials."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of a console page's form."""
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def sign_in(browser: httpx.Client, username: str, password: str) -> httpx.Response:
    """Post the login form through `browser` (its base URL the server's); the answer: 303 when
    signed in, the session cookie then kept by `browser`."""
    token = csrf_of(browser.get("/console/login"))
    return browser.post(
        "/console/login", data={"csrf": token, "username": username, "password": password}
    )
