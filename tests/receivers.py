"""Local HTTP receivers that follow the contracts of the services Scorelet sends to.

Each runs a tiny threaded HTTP server on 127.0.0.1 and records what it got:

- `SlackReceiver`: an incoming webhook. 200 `ok` for a JSON body with `text`
  or `blocks`; 400 `invalid_payload` otherwise; scripted answers (a 503 while
  "down", 429 with Retry-After, 410 `channel_is_archived`) when told.
- `LinearReceiver`: the GraphQL API. `Authorization` must be the API key
  (401 otherwise); `issueCreate` stores an issue under the client-supplied
  `id` and refuses a second one with that id with a GraphQL error inside a
  200, as Linear does; `issue(id:)` finds one; `issueLabels` and `team`
  answer from what it was given. It can be told to take an issue and then
  never answer (the answer lost), to test idempotence across a crash.
- `WebhookReceiver`: verifies `webhook-signature` with the `standardwebhooks`
  reference library and keeps the verified payloads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Scripted:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A threaded HTTP server; subclasses answer `handle(path, headers, body)`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Scripted] = []  # answers to give first, in order
        self.hang = threading.Event()  # set: accept, then never answer until released
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text, extra = receiver.dispatch(self.path, headers, body)
                if status == 0:  # hung: hold the connection until released
                    receiver.release.wait(30)
                    return
                data = text.encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def dispatch(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str]]:
        with self.lock:
            self.requests.append(
                {"path": path, "headers": headers, "body": body, "at": time.monotonic()}
            )
            if self.script:
                answer = self.script.pop(0)
                return answer.status, answer.body, answer.headers
        if self.hang.is_set():
            return 0, "", {}
        return self.handle(path, headers, body)

    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str]]:
        raise NotImplementedError

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class SlackReceiver(Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.times: list[float] = []

    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str]]:
        try:
            message = json.loads(body)
        except ValueError:
            return 400, "invalid_payload", {}
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return 400, "no_text", {}
        with self.lock:
            self.messages.append(message)
            self.times.append(time.monotonic())
        return 200, "ok", {"content-type": "text/html"}


class LinearReceiver(Receiver):
    def __init__(self, key: str = "lin_api_testkey123", team: str = "team-1") -> None:
        super().__init__()
        self.key = key
        self.team = team
        self.labels = {"Customer": "label-1", "CSAT": "label-2"}
        self.issues: dict[str, dict[str, Any]] = {}
        self.lose_answer_once = threading.Event()  # take the next issue, then hang

    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str]]:
        if headers.get("authorization") != self.key:
            return 401, json.dumps({"errors": [{"message": "Authentication required"}]}), {}
        request = json.loads(body)
        query, variables = request["query"], request.get("variables") or {}
        if "issueCreate" in query:
            issue = variables["input"]
            with self.lock:
                if issue["id"] in self.issues:
                    return self._error("Entity already exists: id must be unique")
                number = len(self.issues) + 1
                self.issues[issue["id"]] = {
                    **issue,
                    "identifier": f"SUP-{number}",
                    "url": f"https://linear.app/acme/issue/SUP-{number}",
                }
            if self.lose_answer_once.is_set():
                self.lose_answer_once.clear()
                return 0, "", {}
            found = self.issues[issue["id"]]
            return self._data({"issueCreate": {"success": True, "issue": self._issue(found)}})
        if "issue(id" in query:
            found = self.issues.get(variables["id"])
            if found is None:
                return self._error("Entity not found: Issue")
            return self._data({"issue": self._issue(found)})
        if "issueLabels" in query:
            nodes = [
                {"id": self.labels[name], "name": name}
                for name in variables["names"]
                if name in self.labels
            ]
            return self._data({"issueLabels": {"nodes": nodes}})
        if "team(id" in query:
            if variables["team"] != self.team:
                return self._error("Entity not found: Team")
            return self._data({"team": {"id": self.team, "key": "SUP", "name": "Support"}})
        return 400, json.dumps({"errors": [{"message": "unknown query"}]}), {}

    @staticmethod
    def _issue(found: dict[str, Any]) -> dict[str, Any]:
        return {"id": found["id"], "identifier": found["identifier"], "url": found["url"]}

    @staticmethod
    def _data(data: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
        return 200, json.dumps({"data": data}), {"content-type": "application/json"}

    @staticmethod
    def _error(message: str) -> tuple[int, str, dict[str, str]]:
        body = {"data": None, "errors": [{"message": message, "extensions": {"type": "invalid"}}]}
        return 200, json.dumps(body), {"content-type": "application/json"}


class WebhookReceiver(Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.secret: str | None = None
        self.payloads: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.any_time = False  # for a server on a moved clock: check the signature only

    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str]]:
        assert self.secret is not None, "give the receiver the destination's secret"
        try:
            if self.any_time:
                stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
                signed = Webhook(self.secret).sign(headers["webhook-id"], stamp, body.decode())
                if signed not in headers["webhook-signature"].split(" "):
                    raise WebhookVerificationError("No matching signature found")
                payload = json.loads(body)
            else:
                payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as error:
            self.refused.append(str(error))
            return 401, "bad signature", {}
        with self.lock:
            self.payloads.append({"id": headers["webhook-id"], **payload})
        return 204, "", {}


@contextmanager
def receiving(kind: Callable[[], Receiver]) -> Iterator[Any]:
    receiver = kind().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def wait_for(condition: Callable[[], Any], seconds: float = 15, what: str = "it") -> Any:
    """Poll `condition` until it is truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
