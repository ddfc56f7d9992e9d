"""What every dashboard view shares: the session cookie, forms and their CSRF token, notices, pages.

Every signed-in view is wrapped by `signed_in` (or `signed_in_upload`, for a form that carries a
file), which finds the session from its cookie (or sends the browser to the sign-in page) and, for
a POST, reads the form and refuses it unless it carries the session's CSRF token. Views therefore
cannot forget either check.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from subgroups.container import Services
from subgroups.domain.models import Workspace
from subgroups.domain.operators import OperatorSession
from subgroups.errors import SubgroupsError
from subgroups.web.body import read_body
from subgroups.web.dashboard.render import render
from subgroups.web.dashboard.uploads import Upload, read_upload
from subgroups.web.errors import status_of
from subgroups.web.state import services_of

SESSION_COOKIE: Final = "subgroups_session"
NOTICE_COOKIE: Final = "subgroups_notice"
COOKIE_PATH: Final = "/dashboard"
MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 50


class CsrfRejected(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "This form has expired or did not come from this dashboard.")


def secure_cookies(request: Request) -> bool:
    return (
        services_of(request).settings.dashboard_secure_cookies == "always"
        or request.url.scheme == "https"
    )


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    path: str = COOKIE_PATH,
    samesite: str = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        secure=secure_cookies(request),
        samesite=samesite,  # type: ignore[arg-type]  # one of the three literals Starlette takes
    )


def url(request: Request, name: str, /, **params: Any) -> str:
    """The path of a named dashboard route (never the host: it may be behind a proxy)."""
    return request.url_for(f"dashboard:{name}", **params).path


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body, at most 64 KiB (the dashboard posts nothing bigger), arriving within
    the time every body gets (`subgroups.web.body`)."""
    body = await read_body(
        request,
        max_bytes=MAX_FORM_BYTES,
        time_limit=services_of(request).settings.body_timeout_seconds,
        too_large="This form is too large.",
    )
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "This form could not be read.") from None
    return dict(pairs)


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest((sent or "").encode(), expected.encode())


# Notices: one line shown on the next page after a form did something ("Group created").


def json_cookie_value(value: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def json_cookie(request: Request, name: str) -> dict[str, Any] | None:
    """The JSON object a cookie made by `json_cookie_value` holds; None if it holds none."""
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def with_notice(
    response: Response, request: Request, text: str, *, error: bool = False
) -> Response:
    value = json_cookie_value({"text": text, "error": error})
    set_cookie(response, request, NOTICE_COOKIE, value, max_age=60)
    return response


def take_notice(request: Request) -> dict[str, Any] | None:
    notice = json_cookie(request, NOTICE_COOKIE)
    if notice is None or not isinstance(notice.get("text"), str):
        return None
    return {"text": notice["text"], "error": bool(notice.get("error"))}


def redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


@dataclass(frozen=True, slots=True)
class Context:
    """A signed-in request: who, the form they posted (empty for a GET), the services, and the
    file the form carried (views wrapped by `signed_in_upload` only)."""

    request: Request
    session: OperatorSession
    form: Mapping[str, str]
    services: Services
    upload: Upload | None = None

    async def workspace(self) -> tuple[Workspace, list[Workspace]]:
        """The workspace named by the path, and all of them (for the switcher)."""
        workspaces = await self.services.workspaces.list()
        wanted = self.request.path_params["workspace_id"]
        for workspace in workspaces:
            if workspace.id == wanted:
                return workspace, workspaces
        raise HTTPException(404, "There is no such workspace.")

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        notice = take_notice(self.request)
        response = render(
            self.request,
            template,
            status,
            session=self.session,
            notice=notice,
            **values,
        )
        if notice is not None:
            response.delete_cookie(NOTICE_COOKIE, path=COOKIE_PATH)
        return response

    def form_page(
        self, template: str, *, error: SubgroupsError | None, **values: Any
    ) -> HTMLResponse:
        """A page with a form: as first shown, or shown again after `error` refused what was
        typed, with that error's status, its message and the typed values."""
        return self.page(
            template,
            status=status_of(error) if error else 200,
            error=error.message if error else None,
            form=self.form,
            **values,
        )

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()


View = Callable[[Context], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
FormReader = Callable[[Request], Awaitable[tuple[dict[str, str], Upload | None]]]


async def _plain_form(request: Request) -> tuple[dict[str, str], Upload | None]:
    return await read_form(request), None


def signed_in(view: View) -> Endpoint:
    return _guarded(view, _plain_form)


def signed_in_upload(view: View) -> Endpoint:
    """`signed_in` for a view whose form posts a file (multipart/form-data). A form sent
    otherwise has no file, and is read as any other (its CSRF token is checked all the same)."""
    return _guarded(view, _form_with_file)


async def _form_with_file(request: Request) -> tuple[dict[str, str], Upload | None]:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await read_upload(request)
    return await _plain_form(request)


def _guarded(view: View, read: FormReader) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        services = services_of(request)
        session = await services.operators.session(request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            back = request.url.path if request.method == "GET" else url(request, "home")
            if request.method == "GET" and request.url.query:
                back += "?" + request.url.query
            return redirect(url(request, "sign_in") + "?" + urlencode({"next": back}))
        form: dict[str, str] = {}
        upload: Upload | None = None
        if request.method == "POST":
            form, upload = await read(request)
            if not same_token(form.get("csrf"), session.csrf_token):
                raise CsrfRejected()
        return await view(Context(request, session, form, services, upload))

    endpoint.__name__ = view.__name__
    endpoint.__doc__ = view.__doc__
    return endpoint
