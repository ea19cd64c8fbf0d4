"""A libzmq DEALER that sends requests with a large envelope, which REP
echoes in each reply, and never reads the replies, so that they back up
into the server's send buffer: a server that stops gracefully then waits
its whole linger for them.

    flood_unread.py ENDPOINT COUNT

Each request carries a 500,000-octet envelope frame. Prints "sent" once
COUNT requests are queued, then waits until stdin closes.
"""
import sys

import zmq

context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.linger = 0
dealer.rcvhwm = 1
dealer.sndhwm = 0
dealer.rcvbuf = 4096
dealer.connect(sys.argv[1])
envelope = b"e" * 500_000
for _ in range(int(sys.argv[2])):
    dealer.send_multipart([envelope, b"", b"1"])
print("sent", flush=True)
sys.stdin.read()
