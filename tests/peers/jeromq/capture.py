"""Captures what JeroMQ 0.3.6 (a ZMTP/2.0 peer) puts on the wire, with raw
TCP sockets standing in for its peer. Prints hex, one event a line.

    /usr/bin/python3 tests/peers/jeromq/capture.py

Needs java and /usr/share/java/jeromq.jar (tools/setup). Scenarios:
  req-silent   a JeroMQ REQ connects; we send nothing: what does it send?
  req-v3       we answer its signature with a ZMTP 3.1 greeting (revision 3)
  req-v2       we answer as a ZMTP/2.0 REP and reply to its request
  rep-silent   we connect to a JeroMQ REP and send nothing
  rep-v2       we greet a JeroMQ REP as a ZMTP/2.0 REQ and send a request
  rep-v3       we greet a JeroMQ REP with a whole ZMTP 3.1 greeting
  req-steps    we answer a REQ's signature one part at a time, pausing
  req-rev3-v2  revision 3, then the rest as a 2.0 greeting: taken as 2.0?
  req-bad-type a 2.0 greeting with socket type REQ (3) to a REQ
  rep-bad-type a 2.0 greeting with socket type PUB (1) to a REP
  rep-long     a 2.0 REQ sending a request in a LONG frame (8-octet size)
  libzmq-v2    we greet libzmq 4.3 (multiply_server.py) as a 2.0 REQ, in steps
  libzmq-type  the same in one write, claiming socket type PUB (1)
"""
import os
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JAR = "/usr/share/java/jeromq.jar"
ENV = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")

V3_GREETING = (bytes([0xFF] + [0] * 8 + [0x7F, 3, 1]) + b"NULL".ljust(20, b"\0")
               + bytes([0]) + bytes(31))
V3_SIGNATURE_AND_REVISION = V3_GREETING[:11]
# ZMTP/2.0: signature (0xFF, 8 octets, 0x7F), revision 1, socket type, then
# the identity as a final short frame (flags 0, size 0: anonymous).
def v2_greeting(socket_type):
    return bytes([0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, socket_type, 0, 0])


def log(scenario, what, data=b""):
    print(f"{scenario:11} {what:28} {data.hex(' ')}", flush=True)


def drain(conn, scenario, seconds):
    """Logs everything conn sends for `seconds`, and whether it closes."""
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            log(scenario, f"(quiet for {seconds}s)")
            return True
        ready, _, _ = select.select([conn], [], [], left)
        if not ready:
            continue
        try:
            data = conn.recv(65536)
        except ConnectionResetError:
            log(scenario, "connection reset")
            return False
        if not data:
            log(scenario, "closed by peer (EOF)")
            return False
        log(scenario, f"+{seconds - (end - time.time()):.2f}s received", data)


def java(program, *args):
    return subprocess.Popen(
        ["java", "-cp", JAR, os.path.join(HERE, program + ".java"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)


def as_server(scenario, answer):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = java("ReqClient", "--timeout", "4000", f"tcp://127.0.0.1:{port}", "100")
    listener.settimeout(10)
    conn, _ = listener.accept()
    answer(conn)
    conn.close()
    try:
        out, err = client.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        client.kill()
        out, err = client.communicate()
    log(scenario, f"ReqClient exit {client.returncode}",
        (out + err).strip().encode())
    listener.close()


def as_client(scenario, act):
    rep = java("RepServer", "2", "0")
    line = rep.stdout.readline()
    port = int(line.split("'")[1])
    conn = socket.create_connection(("127.0.0.1", port))
    act(conn)
    conn.close()
    rep.kill()
    rep.wait()


def req_silent(conn):
    drain(conn, "req-silent", 1.5)


def req_v3(conn):
    drain(conn, "req-v3", 0.5)
    conn.sendall(V3_SIGNATURE_AND_REVISION)
    log("req-v3", "sent signature+revision 3", V3_SIGNATURE_AND_REVISION)
    if drain(conn, "req-v3", 1.5):
        conn.sendall(V3_GREETING[11:])
        log("req-v3", "sent rest of 3.1 greeting", V3_GREETING[11:])
        drain(conn, "req-v3", 1.5)


def req_v2(conn):
    drain(conn, "req-v2", 0.5)
    greeting = v2_greeting(4)  # REP
    conn.sendall(greeting)
    log("req-v2", "sent 2.0 greeting (REP)", greeting)
    drain(conn, "req-v2", 1.0)
    reply = bytes([1, 0, 0, 5]) + b"200.0"  # empty delimiter, then "200.0"
    conn.sendall(reply)
    log("req-v2", "sent reply", reply)
    drain(conn, "req-v2", 1.0)


def rep_silent(conn):
    drain(conn, "rep-silent", 1.5)


def rep_v2(conn):
    drain(conn, "rep-v2", 0.5)
    greeting = v2_greeting(3)  # REQ
    conn.sendall(greeting)
    log("rep-v2", "sent 2.0 greeting (REQ)", greeting)
    request = bytes([1, 0, 0, 3]) + b"100"
    conn.sendall(request)
    log("rep-v2", "sent request", request)
    drain(conn, "rep-v2", 1.5)


def rep_v3(conn):
    drain(conn, "rep-v3", 0.5)
    conn.sendall(V3_GREETING)
    log("rep-v3", "sent whole 3.1 greeting", V3_GREETING)
    drain(conn, "rep-v3", 2.0)


def req_steps(conn):
    drain(conn, "req-steps", 0.5)
    for what, part in [
        ("sent 2.0 signature", v2_greeting(4)[:10]),
        ("sent revision 1", bytes([1])),
        ("sent socket type REP", bytes([4])),
        ("sent identity 00 00", bytes([0, 0])),
        ("sent reply", bytes([1, 0, 0, 5]) + b"200.0"),
    ]:
        conn.sendall(part)
        log("req-steps", what, part)
        if not drain(conn, "req-steps", 0.7):
            return


def req_rev3_v2(conn):
    drain(conn, "req-rev3-v2", 0.5)
    greeting = bytes([0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 4, 0, 0])
    conn.sendall(greeting)
    log("req-rev3-v2", "sent rev 3, type REP, id", greeting)
    if drain(conn, "req-rev3-v2", 1.0):
        reply = bytes([1, 0, 0, 5]) + b"200.0"
        conn.sendall(reply)
        log("req-rev3-v2", "sent reply", reply)
        drain(conn, "req-rev3-v2", 1.0)


def req_bad_type(conn):
    drain(conn, "req-bad-type", 0.5)
    greeting = v2_greeting(3)
    conn.sendall(greeting)
    log("req-bad-type", "sent 2.0 greeting (REQ)", greeting)
    drain(conn, "req-bad-type", 1.5)


def rep_bad_type(conn):
    drain(conn, "rep-bad-type", 0.5)
    greeting = v2_greeting(1)
    request = bytes([1, 0, 0, 3]) + b"100"
    conn.sendall(greeting + request)
    log("rep-bad-type", "sent 2.0 greeting (PUB)+req", greeting + request)
    drain(conn, "rep-bad-type", 1.5)


def rep_long(conn):
    drain(conn, "rep-long", 0.5)
    greeting = v2_greeting(3)
    request = bytes([1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]) + b"100"
    conn.sendall(greeting + request)
    log("rep-long", "sent greeting+LONG request", greeting + request)
    drain(conn, "rep-long", 1.5)


def as_client_of_libzmq(scenario, act):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    server = subprocess.Popen(
        ["/usr/bin/python3", "-u", os.path.join(HERE, "..", "..", "tutorial",
                                                "multiply_server.py"),
         "2", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    server.stdout.readline()
    conn = socket.create_connection(("127.0.0.1", port))
    act(conn)
    conn.close()
    server.kill()
    server.wait()


def libzmq_v2(conn):
    drain(conn, "libzmq-v2", 0.5)
    for what, part in [
        ("sent 2.0 signature", v2_greeting(3)[:10]),
        ("sent revision 1", bytes([1])),
        ("sent socket type REQ", bytes([3])),
        ("sent identity 00 00", bytes([0, 0])),
        ("sent request", bytes([1, 0, 0, 3]) + b"100"),
    ]:
        conn.sendall(part)
        log("libzmq-v2", what, part)
        if not drain(conn, "libzmq-v2", 0.7):
            return


def libzmq_type(conn):
    drain(conn, "libzmq-type", 0.5)
    data = v2_greeting(1) + bytes([1, 0, 0, 3]) + b"100"
    conn.sendall(data)
    log("libzmq-type", "sent greeting (PUB)+request", data)
    drain(conn, "libzmq-type", 1.0)


if __name__ == "__main__":
    wanted = sys.argv[1:]
    for name, run in [
        ("req-silent", lambda: as_server("req-silent", req_silent)),
        ("req-v3", lambda: as_server("req-v3", req_v3)),
        ("req-v2", lambda: as_server("req-v2", req_v2)),
        ("rep-silent", lambda: as_client("rep-silent", rep_silent)),
        ("rep-v2", lambda: as_client("rep-v2", rep_v2)),
        ("rep-v3", lambda: as_client("rep-v3", rep_v3)),
        ("req-steps", lambda: as_server("req-steps", req_steps)),
        ("req-rev3-v2", lambda: as_server("req-rev3-v2", req_rev3_v2)),
        ("req-bad-type", lambda: as_server("req-bad-type", req_bad_type)),
        ("rep-bad-type", lambda: as_client("rep-bad-type", rep_bad_type)),
        ("rep-long", lambda: as_client("rep-long", rep_long)),
        ("libzmq-v2", lambda: as_client_of_libzmq("libzmq-v2", libzmq_v2)),
        ("libzmq-type",
         lambda: as_client_of_libzmq("libzmq-type", libzmq_type)),
    ]:
        if not wanted or name in wanted:
            run()
