"""A libzmq DEALER that completes its handshake, asks one request, and then
holds its connection doing nothing, for liveness tests (stop it with SIGSTOP
to play a peer whose machine froze).

    dealer_hold.py ENDPOINT

Prints "ready REPLY" once the reply to its request came, then waits until
stdin closes. libzmq answers a PING by itself, so while it runs it is a
healthy idle peer; stopped, it answers nothing while its kernel still holds
the connection open.
"""
import sys

import zmq

context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.linger = 0
dealer.connect(sys.argv[1])
dealer.send_multipart([b"", b"1"])
_, reply = dealer.recv_multipart()
print(f"ready {reply.decode()}", flush=True)
sys.stdin.read()
