#!/usr/bin/env python3
"""Issue the sample's canaries with the date the story gives them (2026-05-20).

In a real case you run ``plitool canary issue AGENT --kind phone --pool FILE`` on the day you
hand the markers out, months before any leak. This fictional case is built after the fact, and
the command stamps markers with *today*: a marker issued after the leak was first seen is
(rightly) excluded by time. So this script calls the very library function the command calls,
``plitool.provenance.canary.issue_canaries``, with ``today=`` set to the story's issue date:
the same ledger ``note`` (action ``canary issue``, with every marker), the same item tables.

Usage (the case from $PLITOOL_CASE or --case):
    python3 issue_canaries.py AGENT --count N --pool FILE --issued YYYY-MM-DD [--case DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date


def main() -> int:
    from plitool.errors import PlitoolError
    from plitool.provenance.canary import issue_canaries
    from plitool.vault.case import Case

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--issued", type=date.fromisoformat, required=True)
    parser.add_argument("--case", default=None)
    args = parser.parse_args()
    try:
        case = Case.open(explicit=args.case or os.environ.get("PLITOOL_CASE") or None)
        markers = issue_canaries(case, args.agent, "phone", count=args.count, pool=args.pool, today=args.issued)
    except PlitoolError as exc:
        print(f"issue_canaries: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    json.dump([m.as_json() for m in markers], sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
