"""Follow new scores as they happen, over server-sent events.

    python examples/follow_scores.py --key slk_... [--touchpoints checkout,q4] [--url URL]

Without --url it follows the server running on the data directory, as the
`scorelet` command finds it. Reconnects by itself and sends Last-Event-ID,
so it misses no change. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request

from scorelet_url import scorelet_url


def follow(url: str, key: str) -> None:
    last_id = None
    down = False
    while True:
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as stream:
                down = False
                data = None
                for raw in stream:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                    elif not line and data is not None:
                        shown = "-" if data["score"] is None else data["score"]
                        print(
                            f"{time.strftime('%H:%M:%S')}  {data['touchpoint']}:"
                            f" {data['metric'].upper()} {shown} from {data['responses']}",
                            flush=True,
                        )
                        data = None
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{error.code}: {error.read().decode()}") from None
        except OSError as error:  # the server restarted or the network blinked: reconnect
            if not down:
                reason = getattr(error, "reason", error)
                print(f"can't reach Scorelet at {url} ({reason}); retrying", file=sys.stderr)
                down = True
            time.sleep(3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--key", required=True, help="an API key with the read scope")
    parser.add_argument("--touchpoints", help="comma-separated slugs (default: all)")
    parser.add_argument("--url", help="where Scorelet runs (default: the running server's)")
    parser.add_argument("--data", help="the server's data directory (default: ./scorelet-data)")
    args = parser.parse_args()
    url = f"{scorelet_url(args.url, args.data)}/api/v1/stream"
    if args.touchpoints:
        url += f"?touchpoints={args.touchpoints}"
    with contextlib.suppress(KeyboardInterrupt):
        follow(url, args.key)


if __name__ == "__main__":
    main()
