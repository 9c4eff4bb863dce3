"""Misbehaviours of real processors that the simulator can switch on, one flag each.

Every field may be changed while the simulator runs (from its own event loop, or through
`SimulatorThread.set_quirks`); sessions read the flags each time they write or read.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bytes an older HWQS web server put before `<?xml` (openhab/openhab-addons#5841): a BOM-less
# blank line and stray spaces are enough to break a parser that expects the declaration first.
DEFAULT_XML_JUNK = b"\r\n  \r\n"


@dataclass(slots=True)
class Quirks:
    """Switches for processor quirks; all off by default (a well-behaved processor)."""

    # Write every output in random 1-8 byte chunks with tiny pauses, so lines and prompts are cut
    # anywhere, as a real processor's TCP stack does under load.
    split_packets: bool = False
    # Glue the prompt in front of lines (`QNET> ~OUTPUT,...`) and now and then inside one
    # (`~OUTPUT,GNET> 10,1,0.00`, openhab/openhab-addons#5898).
    glued_prompts: bool = False
    # Close every live session every this many seconds (None: never).
    drop_every: float | None = None
    # Keep accepting and reading but never write a byte: a processor that stopped answering.
    silent: bool = False
    # Seconds to wait after the password before answering it.
    slow_login: float = 0.0
    # Do not send a session the `~OUTPUT` events of its own `#OUTPUT` (disputed HWQS behaviour,
    # thecynic/pylutron#125, #130).
    no_self_echo: bool = False
    # Bytes served before the XML declaration of DbXmlInfo.xml.
    xml_junk: bytes = b""
