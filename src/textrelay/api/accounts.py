"""Accounts and Keys (api-core.md §2.1, §2.6)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, caller, form, path_account
from textrelay.api.forms import query_params
from textrelay.api.paging import envelope
from textrelay.api.responses import json_response, no_content
from textrelay.api.serializers import API_ROOT, account_json, account_path, key_json
from textrelay.domain.paging import parse_page_query


async def accounts_collection(request: Request) -> Response:
    principal = await caller(request)
    accounts = api(request).accounts
    if request.method == "POST":
        params = await form(request)
        account = await accounts.create_subaccount(principal, params.text("FriendlyName"))
        return json_response(account_json(account), 201)
    query = query_params(request)
    page = parse_page_query(query)
    result = await accounts.list_accounts(
        principal, page, friendly_name=query.text("FriendlyName"), status=query.text("Status")
    )
    return json_response(
        envelope(
            path=f"{API_ROOT}/Accounts.json",
            key="accounts",
            query=page,
            filters=query.pairs(),
            result=result,
            render=account_json,
        )
    )


async def account_instance(request: Request) -> Response:
    principal = await caller(request)
    accounts = api(request).accounts
    target = await accounts.resolve(
        principal, request.path_params["account_sid"], account_admin=True
    )
    if request.method == "POST":
        params = await form(request)
        target = await accounts.update_account(
            principal,
            target,
            friendly_name=params.text("FriendlyName"),
            status=params.text("Status"),
        )
    return json_response(account_json(target))


async def keys_collection(request: Request) -> Response:
    account = await path_account(request, account_admin=True)
    accounts = api(request).accounts
    if request.method == "POST":
        params = await form(request)
        created = await accounts.create_key(account, params.text("FriendlyName"))
        return json_response(key_json(created.key, created.secret), 201)
    query = query_params(request)
    page = parse_page_query(query)
    result = await accounts.list_keys(account, page)
    return json_response(
        envelope(
            path=f"{account_path(account.sid)}/Keys.json",
            key="keys",
            query=page,
            filters=query.pairs(),
            result=result,
            render=key_json,
        )
    )


async def key_instance(request: Request) -> Response:
    account = await path_account(request, account_admin=True)
    accounts = api(request).accounts
    sid = request.path_params["sid"]
    if request.method == "DELETE":
        await accounts.delete_key(account, sid)
        return no_content()
    if request.method == "POST":
        params = await form(request)
        key = await accounts.update_key(account, sid, params.text("FriendlyName"))
    else:
        key = await accounts.get_key(account, sid)
    return json_response(key_json(key))
