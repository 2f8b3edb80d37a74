"""Poll a touchpoint's score with ETags and print it only when it changes.

    python examples/poll_scores.py checkout --key slk_... [--url URL | --data DIR] [--every 5]

Without --url it polls the server running on the data directory, as the
`scorelet` command finds it. A 304 costs the server almost nothing, so
polling every few seconds is fine. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import urllib.error
import urllib.request

from scorelet_url import scorelet_url


def poll(url: str, key: str, every: float) -> None:
    etag = None
    while True:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        if etag:
            request.add_header("If-None-Match", etag)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                etag = response.headers["ETag"]
                body = json.load(response)
                score = body["score"]
                shown = "no responses yet" if score is None else f"{body['metric'].upper()} {score}"
                interval = body["interval"]
                print(
                    f"{time.strftime('%H:%M:%S')}  {body['touchpoint']}: {shown}"
                    f" from {body['responses']} (95%: {interval['low']} to {interval['high']})",
                    flush=True,
                )
        except urllib.error.HTTPError as error:
            if error.code != 304:  # 304: unchanged, print nothing
                raise SystemExit(f"{error.code}: {error.read().decode()}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SystemExit(f"can't reach Scorelet at {url}: {reason}") from None
        time.sleep(every)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("slug", help="the touchpoint, e.g. checkout")
    parser.add_argument("--key", required=True, help="an API key with the read scope")
    parser.add_argument("--url", help="where Scorelet runs (default: the running server's)")
    parser.add_argument("--data", help="the server's data directory (default: ./scorelet-data)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between polls")
    args = parser.parse_args()
    base = scorelet_url(args.url, args.data)
    with contextlib.suppress(KeyboardInterrupt):
        poll(f"{base}/api/v1/touchpoints/{args.slug}/score", args.key, args.every)


if __name__ == "__main__":
    main()
