"""A line-delimited JSON-RPC 2.0 client for labvirtd's Unix socket (docs/protocol.md)."""
import json
import socket


class RpcError(Exception):
    pass


class Client:
    """One connection. call() sends a request and returns its result, skipping event lines;
    events() yields event notifications (after events.subscribe). Not thread-safe: one thread per
    Client."""

    def __init__(self, path, timeout=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rb")
        self.next_id = 1

    def close(self):
        self.file.close()
        self.sock.close()

    def send(self, method, params):
        rid = self.next_id
        self.next_id += 1
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        self.sock.sendall(line.encode() + b"\n")
        return rid

    def read(self):
        line = self.file.readline()
        if not line:
            raise RpcError("labvirtd closed the connection")
        return json.loads(line)

    def call(self, method, params=None):
        rid = self.send(method, params or {})
        while True:
            msg = self.read()
            if msg.get("id") != rid:
                continue
            if "error" in msg:
                err = msg["error"]
                raise RpcError(f"{method}: {err.get('message')}: {json.dumps(err.get('data'))}")
            return msg.get("result")

    def events(self):
        while True:
            msg = self.read()
            if "id" not in msg:
                yield msg
