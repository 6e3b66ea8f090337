"""A stand-in model server for an InferenceWorkload on the local node: answers every request after a
simulated inference time, many at once, on the port Berth gives it.

    python serve.py [--port PORT] [--seconds S]

PORT defaults to $PORT (Berth sets it to the port the program listens on); S (default 0.5) is how long
one "inference" takes. GET or POST any path; the answer says which replica served it.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
parser.add_argument("--seconds", type=float, default=0.5)
options = parser.parse_args()


class Model(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        time.sleep(options.seconds)
        body = json.dumps({"replica": os.environ.get("HOSTNAME") or socket.gethostname(), "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        with LOG:  # one whole line at a time: the threads answer at once
            sys.stdout.write(f"{self.command} {self.path} -> 200\n")
            sys.stdout.flush()


LOG = threading.Lock()


ThreadingHTTPServer(("127.0.0.1", options.port), Model).serve_forever()
