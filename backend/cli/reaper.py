"""The orphan reaper of `deskpilot up`: a tiny process that outlives the supervisor only to stop
what it started.

`up` runs its children (API, worker, beat, vLLM) in process groups of their own, so that one
Ctrl-C reaches only the supervisor, which then stops them in order. If the supervisor dies
without doing so (SIGKILL, a crash), nothing would stop them: the reaper does. The supervisor
writes each child's process group id to the reaper's stdin (``+<pgid>`` lines) and ``done`` once
it has stopped them itself; end of input without ``done`` means the supervisor died, and the
reaper sends SIGTERM to every group (the group: pool processes, vLLM's engine core), waits up
to ``GRACE_S``, then SIGKILLs what is left. It imports nothing of deskpilot's (starts in
milliseconds) and runs in a session of its own, out of reach of the terminal's signals.

Run as ``python -m backend.cli.reaper``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

GRACE_S = 10.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a group of someone else's now: not ours
        return False
    return True


def reap(groups: list[int], grace_s: float = GRACE_S) -> None:
    """SIGTERM every group, wait up to ``grace_s`` for them to go, SIGKILL the rest."""
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(g) for g in groups):
        time.sleep(0.1)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def main() -> None:
    """Read ``+<pgid>``/``-<pgid>``/``done`` lines until end of input; reap if not done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    groups: list[int] = []
    for line in sys.stdin:
        word = line.strip()
        if word == "done":
            return
        if word[:1] in "+-" and word[1:].isdigit():
            pgid = int(word[1:])
            if word[0] == "+":
                groups.append(pgid)
            elif pgid in groups:
                groups.remove(pgid)
    reap(groups)


if __name__ == "__main__":
    main()
