"""An admin's view of the team on the page: list accounts, disable or enable one.

The account's name travels in the JSON body, not the address, so every name (one with "/",
"?" or "%" too) can be disabled. New accounts and passwords come from the command line.
"""

from __future__ import annotations

import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import bodies, login
from .api import authorised

log = logging.getLogger(__name__)


def _listing(request: Request) -> Response:
    acc = login.accounts(request)
    try:
        clock = time.time()
        return JSONResponse(
            [
                {
                    "name": a.name,
                    "role": a.role,
                    "active": a.active,
                    "locked": bool(a.locked_until and a.locked_until > clock),
                }
                for a in acc.list()
            ]
        )
    finally:
        acc.close()


async def account_list(request: Request) -> Response:
    await authorised(request, "accounts")
    return await run_in_threadpool(_listing, request)


def _set_active(request: Request, user: login.User, name: str, active: bool) -> Response:
    if name == user.name:
        raise HTTPException(400, "you cannot disable your own account")
    acc = login.accounts(request)
    try:
        acc.set_active(name, active)
    finally:
        acc.close()
    log.info("review page: %s %s an account", user.name, "enabled" if active else "disabled")
    return _listing(request)


def account_route(active: bool):
    async def handler(request: Request) -> Response:
        user = await authorised(request, "accounts")
        body = await bodies.read(request, bodies.AccountChange)
        return await run_in_threadpool(_set_active, request, user, body.name, active)

    handler.__name__ = "post_enable" if active else "post_disable"
    return handler


post_enable = account_route(True)
post_disable = account_route(False)
