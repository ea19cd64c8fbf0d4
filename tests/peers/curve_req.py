"""A CURVE REQ client on libzmq (pyzmq) that sends one request.

    curve_req.py ENDPOINT SERVER_PUBLIC_Z85 CLIENT_KEY_SECRET_FILE REQUEST

Prints "reply TEXT" when the answer comes, or "event NAME VALUE" when the
handshake fails (a refused key is HANDSHAKE_FAILED_AUTH 400), then exits.
Gives up after 10 seconds.
"""
import sys

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

endpoint, server_key, secret_file, request = sys.argv[1:5]
context = zmq.Context.instance()
public, secret = zmq.auth.load_certificate(secret_file)
client = context.socket(zmq.REQ)
client.curve_serverkey = server_key.encode()
client.curve_publickey = public
client.curve_secretkey = secret
client.linger = 0
failures = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "HANDSHAKE_FAILED_AUTH",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "HANDSHAKE_FAILED_PROTOCOL",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "HANDSHAKE_FAILED_NO_DETAIL",
}
monitor = client.get_monitor_socket(sum(failures))
client.connect(endpoint)
client.send(request.encode())
poller = zmq.Poller()
poller.register(client, zmq.POLLIN)
poller.register(monitor, zmq.POLLIN)
ready = dict(poller.poll(10000))
if client in ready:
    print("reply", client.recv().decode(), flush=True)
elif monitor in ready:
    event = recv_monitor_message(monitor)
    print("event", failures[event["event"]], event["value"], flush=True)
else:
    print("timeout", flush=True)
client.disable_monitor()
context.destroy(linger=0)
