"""A local approval endpoint: receives draft replies from the trigger's callback.

    python examples/support_webhook/approval_server.py [PORT]   # default 8765

It checks the callback's HMAC signature (``SUPPORT_CALLBACK_SECRET``) and timestamp, then prints
the draft for a human to approve. A real deployment would put it into a review queue.
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from workflow_core.triggers.signature import sign_timestamped

TOLERANCE_SECONDS = 300


class Approvals(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        secret = os.environ["SUPPORT_CALLBACK_SECRET"]
        timestamp = int(self.headers.get("X-Flowscope-Timestamp", "0"))
        expected = sign_timestamped(secret, timestamp, body)
        fresh = abs(time.time() - timestamp) <= TOLERANCE_SECONDS
        if not fresh or self.headers.get("X-Flowscope-Signature") != expected:
            self.send_response(401)
            self.end_headers()
            return
        result = json.loads(body)
        outputs = result.get("outputs") or {}
        print(
            f"--- draft for approval (event {result['event_id']}, run {result['run_id']})\n"
            f"to: {outputs.get('sender')}  subject: Re: {outputs.get('subject')}\n"
            f"category: {outputs.get('category')}\n\n{outputs.get('draft')}\n",
            flush=True,
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    print(f"approvals on http://127.0.0.1:{port}/approvals", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Approvals).serve_forever()
