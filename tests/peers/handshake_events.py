"""Prints "event NAME VALUE" for each handshake a libzmq socket's monitor
sees, succeeded or failed (a refused CURVE key is HANDSHAKE_FAILED_AUTH
400), from a daemon thread: the tests wait for these lines.
"""
import threading

import zmq
from zmq.utils.monitor import recv_monitor_message

NAMES = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "HANDSHAKE_SUCCEEDED",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "HANDSHAKE_FAILED_AUTH",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "HANDSHAKE_FAILED_PROTOCOL",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "HANDSHAKE_FAILED_NO_DETAIL",
}


def print_handshake_events(socket):
    """Starts printing the handshake events of `socket`."""
    events = 0
    for event in NAMES:
        events |= event
    monitor = socket.get_monitor_socket(events)

    def watch():
        while True:
            try:
                event = recv_monitor_message(monitor)
            except zmq.ZMQError:
                return
            print("event", NAMES.get(event["event"], event["event"]), event["value"], flush=True)

    threading.Thread(target=watch, daemon=True).start()
