"""Dashboard sessions, kept in a cookie and nowhere else: a signed, expiring token (JWT, HS256) naming the
signed-in integration and carrying a CSRF token, and the checks every form POST passes (same origin, the
session's CSRF token). The cookie is HttpOnly, SameSite=Lax, limited to ``/dashboard``, and Secure when
the request came over https. Lax rather than Strict: a link to an import's page followed from another
site (a chat, a mail) opens it signed in, instead of showing the sign-in form, whose new cookie would
replace the session. Only GET requests, which change nothing, carry the cookie across sites; every POST
needs the session's CSRF token and this site's origin."""

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from fastapi import Request, Response

from catalog_import.errors import ApiError

COOKIE_NAME = "catalog_import_dashboard"
AUDIENCE = "catalog-import-dashboard"
SESSION_TTL_SECONDS = 8 * 60 * 60
# A visitor who has not signed in yet holds a session without an integration, for the sign-in form's
# CSRF token.
SIGN_IN_TTL_SECONDS = 60 * 60
KEY_LABEL = b"catalog-import dashboard session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(ApiError):
    status_code = 403
    code = "CSRF_REFUSED"


@dataclass(frozen=True, slots=True)
class DashboardSession:
    csrf_token: str
    expires_at: int
    integration_id: uuid.UUID | None = None
    # Changes when the integration's secret changes, which ends the sessions signed in with the old one.
    secret_version: str | None = None


def secret_version(secret_hash: str) -> str:
    return hashlib.sha256(secret_hash.encode()).hexdigest()[:16]


class SessionSigner:
    """Issues and reads session tokens. Its key is derived from the server's token-signing key, and its
    tokens name an audience of their own: a session cookie is never accepted as a bearer token, nor a
    bearer token as a session."""

    def __init__(self, server_key: str) -> None:
        self.key = hmac.new(server_key.encode(), KEY_LABEL, hashlib.sha256).hexdigest()

    def _issue(
        self, integration_id: uuid.UUID | None, version: str | None, ttl_seconds: int
    ) -> tuple[str, DashboardSession]:
        now = int(time.time())
        session = DashboardSession(secrets.token_urlsafe(32), now + ttl_seconds, integration_id, version)
        claims: dict[str, object] = {
            "aud": AUDIENCE,
            "iat": now,
            "exp": session.expires_at,
            "csrf": session.csrf_token,
        }
        if integration_id is not None:
            claims["sub"] = integration_id.hex
            claims["sv"] = version
        return jwt.encode(claims, self.key, algorithm="HS256"), session

    def sign_in(self, integration_id: uuid.UUID, version: str) -> tuple[str, DashboardSession]:
        """A new session for the integration, with a new CSRF token."""
        return self._issue(integration_id, version, SESSION_TTL_SECONDS)

    def anonymous(self) -> tuple[str, DashboardSession]:
        return self._issue(None, None, SIGN_IN_TTL_SECONDS)

    def read(self, token: str) -> DashboardSession | None:
        """The session of a valid, unexpired token; None otherwise."""
        try:
            claims = jwt.decode(
                token, self.key, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "csrf"]}
            )
            subject, csrf_token, version = claims.get("sub"), claims["csrf"], claims.get("sv")
            if not isinstance(csrf_token, str) or not csrf_token:
                return None
            return DashboardSession(
                csrf_token=csrf_token,
                expires_at=int(claims["exp"]),
                integration_id=uuid.UUID(subject) if isinstance(subject, str) else None,
                secret_version=version if isinstance(version, str) else None,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None


def session_signer(request: Request) -> SessionSigner:
    return SessionSigner(request.app.state.token_signer.key)


def dashboard_path(request: Request) -> str:
    """Where the dashboard lives, below the app's root path."""
    return str(request.scope.get("root_path", "")) + "/dashboard"


def current_session(request: Request) -> DashboardSession | None:
    token = request.cookies.get(COOKIE_NAME)
    return session_signer(request).read(token) if token else None


def set_session_cookie(response: Response, request: Request, token: str, session: DashboardSession) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max(session.expires_at - int(time.time()), 0),
        path=dashboard_path(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path=dashboard_path(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def check_same_origin(request: Request) -> None:
    """Refuse a request a browser sent from another site. Browsers name where a POST comes from in
    ``Sec-Fetch-Site`` and ``Origin`` (older ones in ``Referer``); clients that send none of these are
    left to the CSRF token."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CsrfRefused("The request came from another site")
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc.lower() != host:
            raise CsrfRefused("The request came from another site")
        return
    referer = request.headers.get("referer")
    if referer is not None and urlsplit(referer).netloc.lower() != host:
        raise CsrfRefused("The request came from another site")


def check_csrf(request: Request, session: DashboardSession | None, submitted: str | None) -> None:
    """A state-changing request must come from this site and carry its session's CSRF token (a form
    field or the ``X-CSRF-Token`` header)."""
    check_same_origin(request)
    token = submitted or request.headers.get(CSRF_HEADER)
    if session is None or not token or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise CsrfRefused("The form has expired or did not come from this dashboard")
