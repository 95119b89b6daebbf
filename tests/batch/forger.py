"""A scoring-script fragment that poses as its own worker on the server's socket, from init().

While the real worker is still in init(), its id is expected and unclaimed: a raw client that
announces that id would take its place unless the server checks the job's or deployment's token.
The script sends a ``ready`` frame without a token and one with a wrong token, and records what
came back (``""``: the server closed the connection; a frame's bytes otherwise).
"""

FORGER = r"""
import json
import os
import socket
import struct

FORGED = {}


def _argv_value(name):
    # The worker's own command line (linux): where it connects and which id it announces.
    argv = open("/proc/self/cmdline", "rb").read().split(b"\0")
    return argv[argv.index(name.encode()) + 1].decode()


def _connect(address):
    if "/" in address:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)))


def forge():
    address, worker_id = _argv_value("--connect"), _argv_value("--worker-id")
    for label, extra in (("missing", {}), ("wrong", {"token": "x" * 43})):
        hello = {"kind": "ready", "worker_id": worker_id, "pid": os.getpid(), "mode": "batch",
                 "python": "3", "entry_script": "forged.py", "init_ms": 0.0,
                 "capabilities": {"run_batch": True, "rawhttp": False, "input_schema": False},
                 **extra}
        if os.environ.get("AZUREML_BI_OUTPUT_PATH") is None:
            hello["mode"] = "online"
        head = json.dumps(hello).encode()
        with _connect(address) as sock:
            sock.settimeout(60)
            sock.sendall(struct.pack("!II", len(head), 0) + head)
            try:
                got = sock.recv(65536)
            except ConnectionResetError:
                got = b""
        FORGED[label] = got.decode("latin-1")
    FORGED["token_in_environ"] = "FERRY_WORKER_TOKEN" in os.environ
    return FORGED
"""
