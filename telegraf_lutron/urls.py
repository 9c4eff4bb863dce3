"""The design URL: parsed once, credentials split off, shown only without them.

`processor.xml_url` (and `design show --url`) may carry `user:password@`: they are sent as HTTP
basic authentication and never printed, logged or put in an error. A URL that cannot be parsed
is refused with a message that does not echo it (it may hold a password).
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field

from telegraf_lutron.errors import TelegrafLutronError

DEFAULT_PORTS = {"http": 80, "https": 443}


class URLError(TelegrafLutronError, ValueError):
    """A design URL that cannot be used; the message never contains the URL."""


@dataclass(frozen=True, slots=True)
class DesignURL:
    scheme: str  # "http" or "https"
    host: str  # without brackets, as given (case kept for display)
    port: int
    target: str  # path and query, as sent in the request line
    authorization: str | None = field(default=None, repr=False)  # "Basic ..." from user:password@

    @property
    def origin(self) -> tuple[str, str, int]:
        """What a redirect must keep: scheme, host (case-insensitive) and port."""
        return self.scheme, self.host.lower(), self.port

    @property
    def shown(self) -> str:
        """The URL as messages name it: no user, no password, no query string."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        path, query, _ = self.target.partition("?")
        return f"{self.scheme}://{host}{port}{path}{'?...' if query else ''}"

    def resolve(self, location: str) -> DesignURL:
        """A redirect's `Location`, relative or absolute, as a DesignURL (keeping the credentials
        only when the origin stays the same). Raises URLError."""
        base = f"{self.scheme}://{_netloc(self.host, self.port)}{self.target}"
        url = parse_design_url(urllib.parse.urljoin(base, location.strip()))
        if url.origin == self.origin and url.authorization is None:
            return DesignURL(url.scheme, url.host, url.port, url.target, self.authorization)
        return url


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_design_url(url: str) -> DesignURL:
    """Parse an http(s) URL; `user:password@` (percent-encoded) becomes basic authentication."""
    text = url.strip()
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise URLError("the URL contains control characters")
    try:
        parts = urllib.parse.urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise URLError("only http:// and https:// URLs work")
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[scheme]
    except URLError:
        raise
    except ValueError:
        # urlsplit and .port raise with the offending text in the message: never shown.
        raise URLError(
            "the URL cannot be parsed (its port is not a number); a user name or password "
            "holding : / ? # @ [ ] must be percent-encoded, e.g. %40 for @"
        ) from None
    if not host:
        raise URLError("the URL has no host name")
    if "@" in parts.path + parts.query + parts.fragment:
        # `http://user:pa/ss@host/` splits inside the password: refuse rather than send (or show)
        # half of it as a path.
        raise URLError(
            "the URL has an @ after its host; a user name or password holding : / ? # @ [ ] "
            "must be percent-encoded, e.g. %2F for /"
        )
    authorization = None
    if "@" in parts.netloc:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return DesignURL(scheme, host, port, target, authorization)


def shown_url(url: str) -> str:
    """`url` as a message may name it: without credentials or query, or a placeholder when it
    cannot be parsed (never the text itself: it may hold a password)."""
    try:
        return parse_design_url(url).shown
    except URLError:
        return "<the configured URL>"
