# policy.jq — policies/production.chg (with common.chg) written as a jq
# program, the peer `chgc eval --jsonl` is measured against: the same
# classify, the same six rules, the same windows and freezes, one decision
# per change. jq has no time zones, so zones are fixed offsets (New York
# -5h, Berlin +1h: right in winter, an hour off in summer) and the .ics
# calendar is its one fixed event; the costs are the same kind of work.
#
#   jq -c --argjson facts "$(cat facts.json)" -f bench/policy.jq events.jsonl

def ts: sub("\\.[0-9]+Z$"; "Z") | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def iso: strftime("%Y-%m-%dT%H:%M:%SZ");
def wday(t; off): ((t + off) | gmtime | .[6]);      # 0 = Sunday
def hour(t; off): ((t + off) | gmtime | .[3]);
def mday(t): (t | gmtime | .[2]);
def month(t): (t | gmtime | .[1]);
def lastday(t): ((t + 86400) | gmtime | .[2]) == 1;

def weeknights(t):                                   # 22:00 New York, Mon-Fri, for 6h
  (wday(t; -18000) as $d | hour(t; -18000) as $h
   | ($h >= 22 and $d >= 1 and $d <= 5)
     or ($h < 4 and wday(t - 86400; -18000) >= 1 and wday(t - 86400; -18000) <= 5));
def sunday_am(t): wday(t; 3600) == 0 and hour(t; 3600) >= 2 and hour(t; 3600) < 6;
def any_slot(t): weeknights(t) or sunday_am(t);
def black_friday(t): t >= 1795564800 and t < 1796083200;
def year_end(t): (month(t) == 11 and mday(t) >= 20) or (month(t) == 0 and mday(t) < 3);
def ops_calendar(t): t >= 1796860800 and t < 1797033600;
def month_end(t): lastday(t);

. as $c
| ($c.requested_at | ts) as $now
| ($c.env == "prod") as $prod
| (if $prod and $c.type == "schema" then "critical"
   elif $prod and ($c.scope == "global" or $c.resources >= 50) then "high"
   elif $prod or ($c.env == "staging" and $c.resources >= 100) then "medium"
   else "low" end) as $risk
| ({"low": 0, "medium": 1, "high": 2, "critical": 3}[$risk]) as $rank
| ($facts.flags["incident-freeze"] // false) as $incident
| ([$facts.queries[] | select(.call == "aws.cloudwatch.alarm_state" and .args == ["payments-5xx"]) | .result][0]) as $alarm
| [ (if $prod and $c.service == "ledger" and month_end($now)
     then {rule: "ledger_month_end", level: "overridable", message: "ledger is frozen for month-end close"} else empty end),
    (if $rank >= 2 and $prod and (any_slot($now) | not)
     then {rule: "prod_windows", level: "mandatory", message: "window any_slot is closed"} else empty end),
    (if $prod then
       ([if black_friday($now) then "black_friday" else empty end,
         if year_end($now) then "year_end" else empty end,
         if ops_calendar($now) then "ops_calendar" else empty end,
         if $incident then "incident" else empty end] | first) as $f
       | if $f then {rule: "no_prod_in_freeze", level: "overridable", message: "production is frozen: \($f)"} else empty end
     else empty end),
    (if $prod and $alarm == "ALARM"
     then {rule: "alarm_gate", level: "mandatory", message: "alarm payments-5xx is firing"} else empty end)
  ] as $reasons
| [ (if $prod and (wday($now; -18000) == 0 or wday($now; -18000) == 6)
     then {rule: "weekend_notice", level: "advisory", message: "weekend change to \($c.service): tell the on-call engineer"} else empty end),
    (if $c.resources > 150
     then {rule: "big_change_warning", level: "advisory", message: "very large change (\($c.resources) resources): consider splitting"} else empty end)
  ] as $warnings
| {change: $c.id, policy: "production-changes", version: "2026.11", at: ($now | iso), risk: $risk,
   outcome: (if any($reasons[]; .rule != "prod_windows") then "deny"
             elif ($reasons | length) > 0 then "defer" else "allow" end),
   reasons: $reasons, warnings: $warnings,
   window: (if $rank >= 2 and $prod then {required: "any_slot", open: any_slot($now)} else null end)}
