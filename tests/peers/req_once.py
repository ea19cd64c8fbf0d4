"""A REQ on libzmq (pyzmq) that sends one request and prints the reply.

    req_once.py ENDPOINT REQUEST TIMEOUT_MS

Connects to ENDPOINT, sends REQUEST, and prints the reply's frames as a
Python list of bytes (`reply [b'good']`), or `timeout` when none comes
within TIMEOUT_MS. Used to see what libzmq's REQ takes as a reply.
"""
import sys

import zmq

endpoint, request, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
socket = zmq.Context().socket(zmq.REQ)
socket.linger = 0
socket.rcvtimeo = timeout
socket.connect(endpoint)
socket.send_string(request)
try:
    print("reply", socket.recv_multipart(), flush=True)
except zmq.Again:
    print("timeout", flush=True)
