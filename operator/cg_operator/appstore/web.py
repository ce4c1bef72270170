"""The App Store page (`cg-operator appstore`): server-rendered HTML from Jinja2 on aiohttp,
with htmx where the browser runs it and plain links and forms where it does not.

Every Kubernetes call made for a person uses that person's credentials: the bearer token an
authenticating proxy (oauth2-proxy, ...) forwards, or, only when started with
`--kubeconfig-user` (`make run`), the kubeconfig's user. The page's own ServiceAccount is never
used for a person, so Kubernetes RBAC decides what each sees and may change. Every form
carries a CSRF token bound to a cookie; every change is one of appstore/actions' patches."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jinja2
from aiohttp import web

from cg_operator import __version__
from cg_operator.appstore import actions, views
from cg_operator.appstore.i18n import LANGUAGES, reason, translate
from cg_operator.appstore.kube import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Store,
    cluster_configuration,
)

HERE = Path(__file__).parent
TENANTS, COMPONENTS, INSTALLATIONS, ROLLOUTS = (
    "municipalitytenants",
    "cgcomponents",
    "componentinstallations",
    "componentrollouts",
)
CSRF_COOKIE, CSRF_FIELD, LANG_COOKIE = "cg_csrf", "csrf", "cg_lang"
# What an action did, shown once on the page it redirects to (post/redirect/get): a cookie the
# next full page takes and clears, so a reload or a shared link does not repeat it.
FLASH_COOKIE, FLASH_SECONDS = "cg_flash", 60
# A strict policy: everything from this origin, nothing inline, nothing framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STORES_KEPT = 64  # clients kept per token (hashed), most recently used first
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PageSettings:
    """How the page finds the API server and whose identity it acts with."""

    kubeconfig: str | None = None
    context: str | None = None
    kubeconfig_user: bool = False
    """Without a forwarded token, act as the kubeconfig's user (a person's own `make run`)."""
    secure_cookies: bool = True
    per_page: int = 20


SETTINGS: web.AppKey[PageSettings] = web.AppKey("settings", PageSettings)
IDENTITIES: web.AppKey[Any] = web.AppKey("identities", object)
JINJA: web.AppKey[jinja2.Environment] = web.AppKey("jinja", jinja2.Environment)


class Identities:
    """A Store per person: one per forwarded token (kept by its hash, a few at a time), or the
    kubeconfig's user when allowed."""

    def __init__(self, settings: PageSettings) -> None:
        self.settings = settings
        self._cluster: Any = None
        self._stores: OrderedDict[str, Store] = OrderedDict()
        self._own: Store | None = None

    def store(self, request: web.Request) -> Store | None:
        token = request.headers.get("X-Forwarded-Access-Token", "")
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if not token and scheme.lower() == "bearer":
            token = value.strip()
        if token:
            key = hashlib.sha256(token.encode()).hexdigest()
            store = self._stores.pop(key, None)
            if store is None:
                if self._cluster is None:
                    self._cluster = cluster_configuration(
                        self.settings.kubeconfig, self.settings.context
                    )
                store = Store.with_token(self._cluster, token)
            self._stores[key] = store
            while len(self._stores) > STORES_KEPT:
                self._stores.popitem(last=False)[1].close()
            return store
        if self.settings.kubeconfig_user:
            if self._own is None:
                self._own = Store.as_kubeconfig_user(
                    self.settings.kubeconfig, self.settings.context
                )
            return self._own
        return None


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Page:
    """One request's context: who asks, in which language, and their CSRF token."""

    def __init__(self, request: web.Request, store: Store | None) -> None:
        self.request = request
        self._store = store
        chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
        self.language = chosen if chosen in LANGUAGES else "nl"
        self.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)

    @property
    def store(self) -> Store:
        """The person's Store (a page without an identity renders, it does not call)."""
        if self._store is None:
            raise RuntimeError("no identity for this request")
        return self._store

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """A blocking client call, off the event loop."""
        return await asyncio.to_thread(function, *args)

    def t(self, key: str, **values: object) -> str:
        return translate(key, self.language, **values)

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        app = self.request.app
        html = (
            app[JINJA]
            .get_template(template)
            .render(
                t=self.t,
                reason=lambda code: reason(code or "", self.language),
                lang=self.language,
                csrf=self.csrf,
                path=self.request.path,
                query=self.request.query,
                version=__version__,
                flash=self.flash,
                **context,
            )
        )
        response = web.Response(text=html, status=status, content_type="text/html")
        self._cookies(response)
        if self.flash:
            response.del_cookie(FLASH_COOKIE, path="/")
        return response

    @property
    def flash(self) -> str:
        """The message of the action that led here; not for an htmx partial, which leaves it
        to the full page."""
        if self.request.headers.get("HX-Request") == "true":
            return ""
        return unquote(self.request.cookies.get(FLASH_COOKIE, ""))

    def _cookies(self, response: web.StreamResponse) -> None:
        secure = self.request.app[SETTINGS].secure_cookies
        if self.request.cookies.get(CSRF_COOKIE) != self.csrf:
            response.set_cookie(
                CSRF_COOKIE, self.csrf, httponly=True, samesite="Strict", secure=secure, path="/"
            )
        if self.request.query.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, self.language, samesite="Lax", secure=secure, path="/")

    def redirect(self, location: str, done: str = "") -> web.Response:
        response = web.Response(status=303, headers={"Location": location})
        self._cookies(response)
        if done:
            response.set_cookie(
                FLASH_COOKIE,
                quote(done),
                max_age=FLASH_SECONDS,
                httponly=True,
                samesite="Strict",
                secure=self.request.app[SETTINGS].secure_cookies,
                path="/",
            )
        return response


def _page(handler: Callable[[Page], Awaitable[web.StreamResponse]]) -> Handler:
    """A person's page: sign-in needed without an identity; the API server's refusals shown
    as pages that say what is missing."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        store = request.app[IDENTITIES].store(request)
        if store is None:
            return Page(request, None).render(
                "message.html.j2", status=401, title="sign_in", detail=""
            )
        page = Page(request, store)
        try:
            return await handler(page)
        except ForbiddenError as error:
            return page.render("forbidden.html.j2", status=403, detail=str(error))
        except NotFoundError as error:
            return page.render("message.html.j2", status=404, title="not_found", detail=str(error))
        except actions.ActionError as error:
            return page.render("message.html.j2", status=400, title="error", detail=str(error))
        except ConflictError:
            return page.render(
                "message.html.j2", status=409, title="error", detail=page.t("conflict")
            )

    return wrapped


async def _form(page: Page) -> Mapping[str, str]:
    """The POSTed form, once its CSRF token matches the cookie's and its origin is this page's."""
    request = page.request
    form = await request.post()
    origin = request.headers.get("Origin")
    if origin and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-origin form refused")
    sent, cookie = str(form.get(CSRF_FIELD, "")), request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(sent, cookie):
        raise web.HTTPForbidden(text="the form's CSRF token does not match; reload the page")
    return {k: str(v) for k, v in form.items()}


# ---- pages -------------------------------------------------------------------------------


async def catalogue(page: Page) -> web.StreamResponse:
    chosen = {f: page.request.query.get(f, "") for f in views.FILTERS}
    search = page.request.query.get("q", "")
    result = views.catalogue(await page.call(page.store.items, COMPONENTS), chosen, search)
    partial = page.request.headers.get("HX-Request") == "true"
    return page.render(
        "cards.html.j2" if partial else "catalogue.html.j2",
        catalogue=result,
        chosen=chosen,
        search=search,
    )


async def component(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    entry = await page.call(page.store.get, COMPONENTS, name)
    fleet = None
    installations: list[dict[str, Any]] = []
    try:
        tenants: list[dict[str, Any]]
        tenants, installations = await asyncio.gather(
            page.call(page.store.summaries, TENANTS),
            page.call(page.store.summaries, INSTALLATIONS, "", f"{views.COMPONENT_FIELD}={name}"),
        )
        fleet = views.fleet(name, entry, views.tenant_rings(tenants), installations)
    except ForbiddenError:
        pass  # a municipality may see the catalogue, not the other municipalities
    return page.render(
        "component.html.j2",
        entry=entry,
        card=views.card(entry),
        versions=views.component_versions(entry, installations),
        fleet=fleet,
    )


async def tenants(page: Page) -> web.StreamResponse:
    found = await page.call(page.store.items, TENANTS)
    return page.render(
        "tenants.html.j2", tenants=sorted(found, key=lambda t: t["metadata"]["name"])
    )


async def tenant(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    live = await page.call(page.store.get, TENANTS, name)
    namespace = (live.get("status") or {}).get("namespace") or ""
    installations = await page.call(page.store.items, INSTALLATIONS, namespace) if namespace else []
    entries = await page.call(page.store.items, COMPONENTS)
    catalogue = {c["metadata"]["name"]: c for c in entries}
    try:
        rollouts = await page.call(page.store.items, ROLLOUTS)
    except ForbiddenError:
        rollouts = []
    try:
        quota = views.quota_use(await page.call(page.store.quota, namespace)) if namespace else []
    except ForbiddenError:
        quota = []
    subscribed = {c["name"] for c in (live.get("spec") or {}).get("components") or []}
    return page.render(
        "tenant.html.j2",
        tenant=live,
        rows=views.tenant_components(live, installations, catalogue),
        approvals=views.pending_approvals(name, rollouts),
        quota=quota,
        available=sorted(
            (c for n, c in catalogue.items() if n not in subscribed),
            key=lambda c: c["metadata"]["name"],
        ),
    )


async def rollouts(page: Page) -> web.StreamResponse:
    found = await page.call(page.store.items, ROLLOUTS)
    shown = [views.rollout_view(r) for r in sorted(found, key=lambda r: r["metadata"]["name"])]
    return page.render("rollouts.html.j2", rollouts=shown)


async def rollout(page: Page) -> web.StreamResponse:
    live = await page.call(page.store.get, ROLLOUTS, page.request.match_info["name"])
    view = views.rollout_view(live)
    return page.render(
        "rollout.html.j2",
        rollout=view,
        spec=live.get("spec") or {},
        progress={w.get("name"): w for w in view.waves},
    )


async def fleet(page: Page) -> web.StreamResponse:
    try:
        number = int(page.request.query.get("page", "1"))
    except ValueError:
        number = 1
    components = await page.call(page.store.items, COMPONENTS)
    result = views.fleet_page(components, page=number, per_page=page.request.app[SETTINGS].per_page)
    return page.render("fleet.html.j2", fleet=result)


# ---- actions -----------------------------------------------------------------------------


def _values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise actions.ActionError(f"{line.strip()!r}: expected KEY=value")
        values[key.strip()] = value.strip()
    return values


async def subscribe(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    form = await _form(page)
    entry = await page.call(page.store.get, COMPONENTS, form.get("component", ""))
    values = _values(form.get("values", ""))

    def decide(live: dict[str, Any]) -> actions.Patch:
        return actions.subscribe(
            live,
            entry,
            offering=form.get("offering") or None,
            version=form.get("version") or None,
            values=values,
        )

    done = await page.call(page.store.change, TENANTS, name, decide)
    return page.redirect(f"/tenants/{name}", done)


async def unsubscribe_confirm(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    component_name = page.request.query.get("component", "")
    live = await page.call(page.store.get, TENANTS, name)
    preview = actions.unsubscribe(live, component_name)
    return page.render(
        "confirm.html.j2", tenant=name, component=component_name, summary=preview.summary
    )


async def unsubscribe(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    form = await _form(page)
    component_name = form.get("component", "")
    done = await page.call(
        page.store.change, TENANTS, name, lambda t: actions.unsubscribe(t, component_name)
    )
    return page.redirect(f"/tenants/{name}", done)


async def approve_for_tenant(page: Page) -> web.StreamResponse:
    name = page.request.match_info["name"]
    form = await _form(page)
    live_rollout = await page.call(page.store.get, ROLLOUTS, form.get("rollout", ""))
    done = await page.call(
        page.store.change, TENANTS, name, lambda t: actions.approve_for_tenant(t, live_rollout)
    )
    return page.redirect(f"/tenants/{name}", done)


async def rollout_action(page: Page) -> web.StreamResponse:
    name, action = page.request.match_info["name"], page.request.match_info["action"]
    form = await _form(page)

    def decide(live: dict[str, Any]) -> actions.Patch:
        if action == "approve-wave":
            return actions.approve_wave(live, form.get("wave", ""))
        flag, value = {"pause": ("paused", True), "resume": ("paused", False)}[action]
        return actions.set_rollout_flag(live, flag, value)

    done = await page.call(page.store.change, ROLLOUTS, name, decide)
    return page.redirect(f"/rollouts/{name}", done)


async def healthz(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def build_app(settings: PageSettings, identities: Any = None) -> web.Application:
    """The page's application; `identities` (anything with `store(request)`) replaces the
    token and kubeconfig identities in the fast tests."""
    app = web.Application(middlewares=[security_headers], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[IDENTITIES] = identities or Identities(settings)
    app[JINJA] = _environment()
    app.add_routes(
        [
            web.get("/", _page(catalogue)),
            web.get("/components/{name}", _page(component)),
            web.get("/tenants", _page(tenants)),
            web.get("/tenants/{name}", _page(tenant)),
            web.post("/tenants/{name}/subscribe", _page(subscribe)),
            web.get("/tenants/{name}/unsubscribe", _page(unsubscribe_confirm)),
            web.post("/tenants/{name}/unsubscribe", _page(unsubscribe)),
            web.post("/tenants/{name}/approve", _page(approve_for_tenant)),
            web.get("/rollouts", _page(rollouts)),
            web.get("/rollouts/{name}", _page(rollout)),
            web.post("/rollouts/{name}/{action:approve-wave|pause|resume}", _page(rollout_action)),
            web.get("/fleet", _page(fleet)),
            web.get("/healthz", healthz),
            web.static("/static", HERE / "static"),
        ]
    )
    return app


def serve(settings: PageSettings, host: str, port: int) -> None:
    """Serve the page until interrupted."""
    web.run_app(build_app(settings), host=host, port=port, access_log=None)
