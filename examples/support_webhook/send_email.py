"""Send a signed support email to the webhook, like a mail gateway would.

    python examples/support_webhook/send_email.py URL "Subject" "Text" [--from ADDRESS]

URL is the one ``flowscope serve`` prints for ``support-email``. Prints the 202 answer.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid

import httpx

from workflow_core.triggers.signature import sign_timestamped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("subject")
    parser.add_argument("text")
    parser.add_argument("--from", dest="sender", default="customer@example.com")
    args = parser.parse_args()
    body = json.dumps({"from": args.sender, "subject": args.subject, "text": args.text}).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "Message-Id": f"<{uuid.uuid4()}@example.com>",
        "X-Flowscope-Timestamp": str(timestamp),
        "X-Flowscope-Signature": sign_timestamped(
            os.environ["SUPPORT_WEBHOOK_SECRET"], timestamp, body
        ),
    }
    response = httpx.post(args.url, content=body, headers=headers, timeout=10)
    print(response.status_code, response.text)


if __name__ == "__main__":
    main()
