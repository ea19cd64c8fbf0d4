"""Runs a command in a pseudo-terminal and presses keys as a person would.

    pty_keys.py STEP... -- COMMAND ARG...

Each STEP is one of:
  wait=REGEX   wait (up to 20 s) until what the terminal showed matches REGEX
  key=^C       press Ctrl-C (the terminal sends SIGINT to the foreground
               process group: every process of the command)
  pause=MS     wait MS milliseconds
Then waits (up to 20 s) for the command to end, and exits with the
command's status (124 when a step or the end timed out; the command's
process group is then killed). What the terminal shows is echoed on stdout
as it comes.
"""
import os
import pty
import re
import select
import signal
import sys
import time

split = sys.argv.index("--")
steps, command = sys.argv[1:split], sys.argv[split + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

seen = b""


def read_for(seconds, until=None):
    """Reads what the terminal shows for up to `seconds`, or until `until` matches."""
    global seen
    deadline = time.time() + seconds
    while time.time() < deadline:
        if until is not None and until.search(seen.decode("utf-8", "replace")):
            return True
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                return until is None
            seen += chunk
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    return until is None


def give_up(why):
    sys.stdout.write(f"\npty_keys.py: {why}\n")
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
    sys.exit(124)


for step in steps:
    name, _, value = step.partition("=")
    if name == "wait":
        if not read_for(20.0, re.compile(value)):
            give_up(f"no {value!r} within 20 s")
    elif name == "key" and value == "^C":
        os.write(fd, b"\x03")
    elif name == "pause":
        read_for(int(value) / 1000)
    else:
        give_up(f"unknown step {step!r}")

deadline = time.time() + 20.0
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.time() > deadline:
        give_up("the command did not end within 20 s")
    read_for(0.05)
read_for(0.5)
sys.exit(os.waitstatus_to_exitcode(status))
