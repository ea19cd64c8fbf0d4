"""A CURVE REP server on libzmq (pyzmq), admitting only the client keys in
a directory through zmq.auth's ThreadAuthenticator (ZAP).

    curve_rep.py SERVER_KEY_SECRET_FILE ALLOWED_CLIENTS_DIR [HEARTBEAT_MS]

Binds a random port on 127.0.0.1 and prints "port N". Answers each request
with the number times 2 ("100" -> "200.0") until killed, and prints
"event NAME VALUE" for each handshake event its monitor sees. With
HEARTBEAT_MS it sends ZMTP PING commands that often.
"""
import sys

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from handshake_events import print_handshake_events

secret_file, allowed_dir = sys.argv[1], sys.argv[2]
context = zmq.Context.instance()
auth = ThreadAuthenticator(context)
auth.start()
auth.configure_curve(domain="*", location=allowed_dir)

public, secret = zmq.auth.load_certificate(secret_file)
server = context.socket(zmq.REP)
server.curve_publickey = public
server.curve_secretkey = secret
server.curve_server = True
server.linger = 0
if len(sys.argv) > 3:
    server.heartbeat_ivl = int(sys.argv[3])
print_handshake_events(server)
port = server.bind_to_random_port("tcp://127.0.0.1")
print("port", port, flush=True)
while True:
    request = server.recv()
    server.send(str(float(request) * 2).encode())
