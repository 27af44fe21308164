#!/usr/bin/env python3
"""Generate a large, valid policy for benchmarking `chgc check`.

    gen_policy.py RULES > big.chg

The policy has the §2 example's schema, risk classes, classify, windows and
freezes, and RULES rules cycling through every rule form: deny with
conditions over enums, ints and lists, `deny during` freezes with
interpolated messages, `require window`, `require` approvals, advisory
warnings with quantifiers, regex matches and built-in calls. Deterministic:
the same RULES gives the same file.

Only the first REQUIRE_MAX approval rules `require` approvals: a decision
joins the approvals of every rule that may apply with its class's entry,
and the compiler bounds that join (E0609, 16 terms at once), so a policy
with a thousand approval rules is not valid. The later rules of that form
deny on the same condition instead.
"""
import sys

HEAD = '''policy "bench" version "1"

schema change {
  id:           string
  env:          enum("dev", "staging", "prod")
  service:      string
  type:         enum("config", "deploy", "schema", "infra")
  resources:    int
  scope:        enum("single-az", "region", "global")
  emergency:    bool = false
  requested_at: time
  requester:    { name: string, groups: [string] }
  approvals:    [{ by: string, group: string, at: time }]
  pipeline:     string?
}

at change.requested_at
risk low < medium < high < critical
let prod = change.env == "prod"

classify {
  critical when prod and change.type == "schema"
  high     when prod and (change.scope == "global" or change.resources >= 50)
  medium   when prod or (change.env == "staging" and change.resources >= 100)
  default  low
}

window weeknights = cron "0 22 ? * MON-FRI *" for 6h in "America/New_York"
window sunday_am  = weekly sun 02:00..06:00 in "Europe/Berlin"
window any_slot   = weeknights or sunday_am
freeze black_friday = 2026-11-25T00:00 .. 2026-12-01T00:00 in "UTC"
freeze year_end     = yearly dec 20 .. jan 03 in "UTC"
freeze incident     = flag "incident-freeze"

approvals {
  low       => none
  medium    => 1 of group "team-lead"
  high      => 2 of group "cab" within 72h
  critical  => 2 of group "cab" and 1 of group "security"
  emergency => 1 of group "incident-commander"
}
'''

FORMS = [
    '''rule r{i}_deny mandatory:
  when prod and change.service == "svc-{i}" and change.resources > {n}
  deny "service svc-{i} may change at most {n} resources at once ({{change.resources}} given)"
''',
    '''rule r{i}_freeze overridable:
  when prod and change.service == "svc-{i}"
  deny during black_friday, year_end, incident "svc-{i} is frozen: {{freeze}}"
''',
    '''rule r{i}_window mandatory:
  when risk >= high and change.service == "svc-{i}"
  require window any_slot
''',
    '''rule r{i}_dba:
  when change.type == "schema" and startswith(change.service, "db-{i}")
  require 1 of group "dba-{g}" within 24h
''',
    '''rule r{i}_warn advisory:
  when count(a in change.approvals where a.group == "cab-{g}") > {k} and lower(change.service) == "svc-{i}"
  warn "{{change.service}}: many approvals from cab-{g}"
''',
    '''rule r{i}_regex mandatory:
  when change.pipeline != null and change.pipeline matches r"^team-{g}-[a-z]+-{i}$"
  deny "pipeline {{change.pipeline}} is retired"
''',
    '''rule r{i}_any advisory:
  when any a in change.approvals: a.by == change.requester.name and a.group != "self-{g}"
  warn "self-approval by {{change.requester.name}} ({i})"
''',
    '''rule r{i}_time mandatory:
  when prod and hour(change.requested_at, "Europe/Berlin") in [{h}, {h2}] and change.scope != "single-az"
  deny "no multi-AZ changes at {h}:00 Berlin time ({i})"
''',
]

REQUIRE_MAX = 12
DBA_DENY = '''rule r{i}_dba:
  when change.type == "schema" and startswith(change.service, "db-{i}")
  deny "schema changes of {{change.service}} go through the dba-{g} pipeline"
'''


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    requires = 0
    out = [HEAD]
    for i in range(n):
        form = FORMS[i % len(FORMS)]
        if "require 1 of group" in form:
            requires += 1
            if requires > REQUIRE_MAX:
                form = DBA_DENY
        out.append(form.format(i=i, n=10 + i % 90, g=i % 17, k=1 + i % 4, h=i % 24, h2=(i + 1) % 24))
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
