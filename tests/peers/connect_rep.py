"""A multiply worker on libzmq (pyzmq): a REP that connects to a broker's
backend at ENDPOINT, instead of binding, and answers as multiply_server.py.

    connect_rep.py MULTIPLIER ENDPOINT

Prints "connected ENDPOINT" once connecting, then the tutorial's log lines.
"""
import sys

import zmq

multiplier, endpoint = int(sys.argv[1]), sys.argv[2]
socket = zmq.Context().socket(zmq.REP)
socket.connect(endpoint)
print(f"connected {endpoint}", flush=True)
while True:
    line = socket.recv_string()
    try:
        output_number = float(line) * multiplier
    except ValueError:
        output_number = "not a 'float'"
    print(f"received: {line} sending: {output_number}", flush=True)
    socket.send_string(str(output_number))
