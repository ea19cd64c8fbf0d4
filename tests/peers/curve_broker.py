"""A request-reply broker on libzmq with CURVE on both hops: pyzmq's
zmq.proxy between a ROUTER frontend (clients connect here) and a DEALER
backend (servers connect here), each a CURVE server with its own
certificate.

    curve_broker.py FRONTEND_KEY_SECRET BACKEND_KEY_SECRET [BACKEND_ALLOW_DIR]
                    [--frontend PORT] [--backend PORT]

Binds its two ports on 127.0.0.1 (free ones unless given) and prints
"broker frontend PORT backend PORT" once both are bound. The frontend admits any client that knows its
public key. With BACKEND_ALLOW_DIR, the backend admits only servers whose
public key is in one of that directory's .key files (zmq.auth's
ThreadAuthenticator, whose ZAP handler serves one context: so the backend
has a context of its own). Prints "event NAME VALUE" for each handshake on
the backend, whether it succeeded or failed (a refused key is
HANDSHAKE_FAILED_AUTH 400).
"""
import argparse

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from handshake_events import print_handshake_events

parser = argparse.ArgumentParser()
parser.add_argument("frontend_secret")
parser.add_argument("backend_secret")
parser.add_argument("allow_dir", nargs="?")
parser.add_argument("--frontend", type=int, default=0)
parser.add_argument("--backend", type=int, default=0)
arguments = parser.parse_args()
frontend_secret = arguments.frontend_secret
backend_secret = arguments.backend_secret
allow_dir = arguments.allow_dir

front_context = zmq.Context()
back_context = zmq.Context()
if allow_dir is not None:
    auth = ThreadAuthenticator(back_context)
    auth.start()
    auth.configure_curve(domain="*", location=allow_dir)


def curve_server(context, kind, secret_file):
    socket = context.socket(kind)
    public, secret = zmq.auth.load_certificate(secret_file)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_server = True
    socket.linger = 0
    return socket


frontend = curve_server(front_context, zmq.ROUTER, frontend_secret)
backend = curve_server(back_context, zmq.DEALER, backend_secret)
print_handshake_events(backend)
def bind(socket, port):
    if port == 0:
        return socket.bind_to_random_port("tcp://127.0.0.1")
    socket.bind(f"tcp://127.0.0.1:{port}")
    return port


frontend_port = bind(frontend, arguments.frontend)
backend_port = bind(backend, arguments.backend)
print("broker frontend", frontend_port, "backend", backend_port, flush=True)
zmq.proxy(frontend, backend)
