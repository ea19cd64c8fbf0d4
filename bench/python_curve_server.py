"""The tutorial's multiply_server.py with CURVE on, for the benchmark.

    python_curve_server.py SECRET_CERTIFICATE MULTIPLIER PORT

Runs tests/tutorial/multiply_server.py unchanged, except that its REP socket
becomes a CURVE server (curve_server = True) with the key pair from a
certificate, as zmq.auth.load_certificate reads it: the same libzmq, with
libsodium in C, doing the same work as the tutorial's server, encrypted.
"""
import os
import runpy
import sys

import zmq
import zmq.auth

secret_file = sys.argv.pop(1)
public, secret = zmq.auth.load_certificate(secret_file)
plain_bind = zmq.Socket.bind


def curve_bind(self, address):
    self.curve_publickey = public
    self.curve_secretkey = secret
    self.curve_server = True
    return plain_bind(self, address)


zmq.Socket.bind = curve_bind
tutorial = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tutorial",
    "multiply_server.py",
)
sys.argv[0] = tutorial
runpy.run_path(tutorial, run_name="__main__")
