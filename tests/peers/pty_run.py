"""Runs a command in a pseudo-terminal, as a person at a keyboard would.

    pty_run.py LINE... -- COMMAND ARG...

Waits for the prompt before typing each LINE, types Ctrl-D after the last,
and echoes everything the terminal showed. Exits with the command's status.
A LINE may hold Python escapes (\\xff types the octet 0xff); a LINE of ^C
types Ctrl-C instead, and nothing after it.
"""
import os
import pty
import select
import sys
import time

split = sys.argv.index("--")
lines, command = sys.argv[1:split], sys.argv[split + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

seen = b""


def read_until(marker, count, seconds=15.0):
    global seen
    deadline = time.time() + seconds
    while seen.count(marker) < count and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                return


prompt = b"give a number to multiply: "
for i, line in enumerate(lines):
    read_until(prompt, i + 1)
    if line == "^C":
        os.write(fd, b"\x03")
        break
    os.write(fd, line.encode().decode("unicode_escape").encode("latin-1") + b"\n")
else:
    read_until(prompt, len(lines) + 1)
    os.write(fd, b"\x04")
_, status = os.waitpid(pid, 0)
try:
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
except OSError:
    pass
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
