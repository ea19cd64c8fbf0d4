"""A TCP listener whose accept queue is full, so that Linux drops every
further SYN to it silently: a "firewalled host" on loopback.

    full_backlog.py [HOST]

Listens on HOST (default 127.0.0.1), port 0, with backlog 0 (which Linux
takes as room for one connection), connects to itself until the kernel says
the accept queue is full, and never accepts. Linux's tcp_conn_request() then
drops each SYN (counted as ListenOverflows) whatever tcp_syncookies and
tcp_abort_on_overflow say: no SYN-ACK, no RST, so a connect stays pending
until the caller gives up. Prints "blackhole HOST PORT" once the queue is
full, then waits until stdin closes or a signal ends it.
"""
import socket
import struct
import sys
import time

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"


def accept_queue(sock):
    """(queued, limit) of a listening socket: for a listener, struct
    tcp_info's tcpi_unacked is sk_ack_backlog and tcpi_sacked is
    sk_max_ack_backlog; the queue is full when queued > limit."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    # u8 state, ca_state, retransmits, probes, backoff, options, wscales,
    # flags; u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, ...
    unacked, sacked = struct.unpack_from("II", info, 8 + 4 * 4)
    return unacked, sacked


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind((host, 0))
listener.listen(0)
port = listener.getsockname()[1]

fillers = []
deadline = time.monotonic() + 10
while True:
    queued, limit = accept_queue(listener)
    if queued > limit:
        break
    if time.monotonic() > deadline:
        sys.exit(f"full_backlog: accept queue {queued}/{limit} never filled")
    if len(fillers) <= limit:
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.settimeout(5)
        filler.connect((host, port))
        fillers.append(filler)
    else:
        # The last filler's ACK is still on its way through loopback.
        time.sleep(0.001)

print(f"blackhole {host} {port}", flush=True)
try:
    sys.stdin.read()
except KeyboardInterrupt:
    pass
