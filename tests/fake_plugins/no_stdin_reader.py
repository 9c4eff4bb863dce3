"""Plugin that never reads stdin (ticks pile up in the pipe); exits 0 once Telegraf closes stdin."""

import select
import sys
import time

print("ready,plugin=no_stdin_reader value=1", flush=True)
poller = select.poll()
poller.register(0, 0)  # POLLHUP is always reported: it shows the writer closed without reading data
while not any(event & (select.POLLHUP | select.POLLERR) for _, event in poller.poll()):
    time.sleep(0.05)  # stdin holds unread ticks, so poll() keeps returning POLLIN at once
sys.exit(0)
