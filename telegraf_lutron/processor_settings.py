"""How to reach and talk to the processor: the one definition of these settings.

`config` fills a `ProcessorSettings` from the `[processor]` table of the plugin's TOML (its keys
are these field names, plus `password_file`); the session, `check` and the design source read it.
No I/O, and nothing from the layers that use it (the session does not depend on TOML); the design
URL follows the design cache's one rule for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telegraf_lutron.design_cache import url_for_host


@dataclass
class ProcessorSettings:
    host: str = ""
    telnet_port: int = 23
    http_port: int = 80
    username: str = "default"
    password: str = field(default="", repr=False)
    xml_url: str = field(
        default="", repr=False
    )  # default http://<host>[:<http_port>]/DbXmlInfo.xml; may hold user:password@
    connect_timeout: float = 10.0
    login_timeout: float = 10.0
    query_timeout: float = 5.0
    keepalive_interval: float = 60.0
    keepalive_timeout: float = 30.0
    window: int = 8  # queries in flight during a full state read
    xml_timeout: float = 60.0

    @property
    def design_url(self) -> str:
        return self.xml_url or url_for_host(self.host, self.http_port)

    @property
    def where(self) -> str:
        """`host:port` of the telnet session, as messages name it."""
        return f"{self.host}:{self.telnet_port}"
