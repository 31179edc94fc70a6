"""Who is signed in (`UserDep`), form checks against CSRF (`FormDep`), and the sign-in pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from outguard.errors import Forbidden, OutguardError, Unauthorized
from outguard.services import Actor, Services
from outguard.web.portal import session
from outguard.web.portal.render import page

router = APIRouter()


class SignInRequired(Exception):
    """No valid session: the portal answers with a redirect to the sign-in page."""


@dataclass
class PortalUser:
    svc: Services
    actor: Actor
    tenant: str | None  # the tenant of a tenant admin; None for an operator
    prefix: str
    csrf: str

    @property
    def is_operator(self) -> bool:
        return self.actor.is_operator


def _user(request: Request) -> PortalUser:
    data = session.read(request)
    if data is None:
        raise SignInRequired()
    st = request.app.state
    try:
        actor = Services(st.db, st.settings, Actor.system("web")).apikeys.session_actor(
            int(data["k"]), str(data["f"])
        )
    except (Unauthorized, KeyError, ValueError):
        raise SignInRequired()
    svc = Services(st.db, st.settings, actor)
    tenant = None
    if actor.tenant_id is not None:
        own = svc.tenants.list()
        if not own:  # the tenant was deleted
            raise SignInRequired()
        tenant = own[0]["name"]
    user = PortalUser(svc, actor, tenant, str(data.get("p", "")), str(data["c"]))
    request.state.user = user
    return user


async def current_user(request: Request) -> PortalUser:
    return await run_in_threadpool(_user, request)


UserDep = Annotated[PortalUser, Depends(current_user)]


def same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; when they do it must be ours (defence in depth behind SameSite)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def checked_form(request: Request, user: UserDep) -> FormData:
    """The posted form, after checking its CSRF token against the session's."""
    import hmac

    form = await request.form()
    token = form.get("csrf_token")
    if not same_origin(request) or not isinstance(token, str) or not hmac.compare_digest(token, user.csrf):
        raise Forbidden(
            "the form has expired or did not come from this portal; reload the page and try again"
        )
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/signin", include_in_schema=False)
def signin_form(request: Request, next: str = "/") -> Response:
    return page(request, "signin.html", {"next": safe_next(next), "error": None})


@router.post("/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    form = await request.form()
    key = str(form.get("api_key") or "").strip()
    target = safe_next(str(form.get("next") or "/"))
    st = request.app.state
    error = None
    if not same_origin(request):
        error = "sign-in must come from this portal"
    else:
        try:
            opened = await run_in_threadpool(
                Services(st.db, st.settings, Actor.system("web")).apikeys.open_session, key
            )
        except OutguardError as e:
            error = str(e) if key else "enter an API key (outguard apikey create)"
    if error:
        return page(request, "signin.html", {"next": target, "error": error}, status=401)
    response = RedirectResponse(target, status_code=303)
    session.start(request, response, opened)
    return response


@router.post("/signout", include_in_schema=False)
def signout(request: Request, _form: FormDep) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    session.end(response)
    return response


def done(request: Request, target: str, text: str, kind: str = "ok") -> Response:
    """After a form: back to a page with a one-time notice."""
    response = RedirectResponse(safe_next(target), status_code=303)
    session.flash(request, response, kind, text)
    return response


def attempt(request: Request, target: str, ok: str, action: object) -> Response:
    """Run a service call from a form: success and error both come back as a notice on `target`."""
    try:
        action()  # type: ignore[operator]
    except OutguardError as e:
        return done(request, target, str(e), "error")
    return done(request, target, ok)
