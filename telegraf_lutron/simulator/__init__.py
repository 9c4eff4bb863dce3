"""A HomeWorks QS / RadioRA 2 processor simulator: telnet integration port and DbXmlInfo.xml.

`Simulator` runs on the caller's event loop; `SimulatorThread` runs one in a thread of its own.
"""

from telegraf_lutron.simulator.core import Lockout, Simulator
from telegraf_lutron.simulator.quirks import Quirks
from telegraf_lutron.simulator.stats import LoginAttempt, SimulatorStats
from telegraf_lutron.simulator.thread import SimulatorThread

__all__ = ["Lockout", "LoginAttempt", "Quirks", "Simulator", "SimulatorStats", "SimulatorThread"]
