#!/usr/bin/env python3
"""chg decisions (JSON lines) -> the peers' "id<TAB>decision" lines.

deny (a freeze held) is deny:freeze; defer (the required window was
closed) is deny:outside-window; pending names the groups missing, in the
policy's order, as the peers write them (pending:cab,security); an event
that gave no decision is "error".

    to_tsv.py < decisions.jsonl > decisions.tsv
"""
import json
import sys

WORD = {"allow": "allow", "deny": "deny:freeze", "defer": "deny:outside-window"}


def missing_name(req):
    # "2 of group cab" -> cab, "1 of any" -> any
    return req.split(" of group ")[1] if " of group " in req else req.split(" of ")[1]


def main():
    out = sys.stdout
    for line in sys.stdin:
        d = json.loads(line)
        if "outcome" not in d:
            out.write("?\terror\n")
            continue
        o = d["outcome"]
        if o == "pending":
            word = "pending:" + ",".join(missing_name(m) for m in d["approvals"]["missing"])
        else:
            word = WORD.get(o, o)
        out.write(f"{d['change']}\t{word}\n")


if __name__ == "__main__":
    main()
