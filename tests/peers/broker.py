"""A request-reply broker on libzmq: pyzmq's zmq.proxy between a ROUTER
frontend (clients connect here) and a DEALER backend (servers connect here).

    broker.py FRONTEND_PORT BACKEND_PORT [HOST]

Prints "broker ready" once both sides are bound. Used by the tests as an
engine that is not ours, and as the README's worked example.
"""
import sys

import zmq

frontend_port, backend_port = sys.argv[1], sys.argv[2]
host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
context = zmq.Context()
frontend = context.socket(zmq.ROUTER)
frontend.bind(f"tcp://{host}:{frontend_port}")
backend = context.socket(zmq.DEALER)
backend.bind(f"tcp://{host}:{backend_port}")
print("broker ready", flush=True)
zmq.proxy(frontend, backend)
