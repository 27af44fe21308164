#!/usr/bin/env python3
"""gen_plan.py N [YEAR] — N planned changes over one year for
policies/production.chg, as `chgc simulate --changes` reads them: services
drawn from 60 (a tenth depend on another), a mix of config, deploy,
schema and infra changes in prod and staging, 30 minutes to 5 hours long,
each approved a day before it is planned (two CAB members and a team
lead, so high and medium changes have what they need; critical ones lack
security). Deterministic: the same N gives the same bytes."""
import json
import random
import sys

n = int(sys.argv[1])
year = int(sys.argv[2]) if len(sys.argv) > 2 else 2027
rng = random.Random(13)
services = ["svc%02d" % i for i in range(60)]
start = 1798761600 if year == 2027 else None  # 2027-01-01T00:00:00Z
if start is None:
    import calendar
    start = calendar.timegm((year, 1, 1, 0, 0, 0))


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


out = []
for i in range(n):
    at = start + rng.randrange(0, 365 * 86400 // 900) * 900
    svc = rng.choice(services)
    approved = iso(at - 86400)
    change = {
        "id": "CHG-%05d" % i, "env": rng.choice(["prod", "prod", "prod", "staging"]), "service": svc,
        "type": rng.choice(["config", "deploy", "deploy", "schema", "infra"]), "resources": rng.choice([1, 3, 10, 60]),
        "scope": rng.choice(["single-az", "region", "region", "global"]), "requested_at": iso(at),
        "requester": {"name": "dev%d" % (i % 40), "groups": ["dev"]},
        "approvals": [{"by": "cab1", "group": "cab", "at": approved}, {"by": "cab2", "group": "cab", "at": approved},
                      {"by": "lead", "group": "team-lead", "at": approved}],
    }
    item = {"change": change, "duration": rng.choice(["30m", "1h", "2h", "3h", "5h"])}
    k = int(svc[3:])
    if k % 10 == 0:
        item["depends_on"] = [services[(k + 7) % 60]]
    out.append(item)
json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
