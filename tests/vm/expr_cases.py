#!/usr/bin/env python3
"""Table-driven expression tests, through the real compiler and VM.

Each case is an expression and what `"{EXPR}"` must show (the text
interpolation gives a value), or ERROR and a piece of the run-time error's
message. Cases are grouped by the change they read; each group becomes one
policy with one advisory rule per case (`warn "{EXPR}"`), evaluated by
`chgc eval`; the warnings come back in order. Error cases run one policy
each (an error ends a decision).

    expr_cases.py CHGC
"""
import json
import os
import subprocess
import sys
import tempfile

ERROR = object()

SCHEMA = '''schema change {
  id: string
  env: enum("dev", "staging", "prod")
  n: int
  f: float
  s: string
  t: time
  d: duration
  ok: bool
  opt: string?
  nothing: string?
  tags: [string]
  empty: [string]
  items: [{ name: string, size: int, note: string? }]
  owner: { name: string, team: string? }
  dflt: int = 7
}
'''

TYPED_CHANGE = {
    "id": "c1", "env": "prod", "n": 42, "f": 2.5, "s": "héllo wörld", "t": "2026-12-03T03:30:00Z",
    "d": 5400, "ok": True, "opt": "x-1", "nothing": None, "tags": ["a", "b", "c"], "empty": [],
    "items": [{"name": "web", "size": 3}, {"name": "db", "size": 10, "note": "primary"}],
    "owner": {"name": "ann"},
}

# (expression, expected text) — typed change
TYPED = [
    # literals
    ("1", "1"), ("-1", "-1"), ("0", "0"), ("9223372036854775807", "9223372036854775807"),
    ("1.5", "1.5"), ("2.0", "2.0"), ("0.1 + 0.2", "0.30000000000000004"), ("1.0 / 3.0", "0.3333333333333333"),
    ("true", "true"), ("false", "false"), ("null", "null"),
    ('"plain"', "plain"), ('"tab\\there"', "tab\there"), ('"quote \\" here"', 'quote " here'),
    ('"brace \\{ \\}"', "brace { }"), ('"\\u{1F600}"', "\U0001F600"), ('"\\u{E9}"', "é"),
    ('r"raw\\n{x}"', "raw\\n{x}"), ("90s", "1m30s"), ("6h", "6h"), ("1h30m", "1h30m"), ("2w", "2w"),
    ("86400s", "1d"), ("2026-11-25T00:00Z", "2026-11-25T00:00:00Z"), ("2026-11-25", "2026-11-25T00:00:00Z"),
    ("2026-11-25T01:00:00+01:00", "2026-11-25T00:00:00Z"), ("[1, 2, 3]", "[1, 2, 3]"), ("[]", "[]"),
    ('["a", "b"]', "[a, b]"), ("[[1], [2, 3]]", "[[1], [2, 3]]"),
    # interpolation of computed values
    ('"n={change.n} f={change.f}"', "n=42 f=2.5"), ('"{1}{2}{3}"', "123"), ('"{"in{"ner"}"}"', "inner"),
    # arithmetic
    ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("7 / 2", "3"), ("-7 / 2", "-3"), ("7 % 3", "1"), ("-7 % 3", "-1"),
    ("7.0 / 2", "3.5"), ("1 + 2.5", "3.5"), ("2 * 0.5", "1.0"), ("10 - 20", "-10"),
    ("9223372036854775806 + 1", "9223372036854775807"), ("-9223372036854775807 - 1", "-9223372036854775808"),
    ("change.n * 2", "84"), ("change.n - change.n", "0"), ("change.f * 2", "5.0"),
    ('"a" + "b"', "ab"), ('change.s + "!"', "héllo wörld!"), ('"" + ""', ""),
    # durations and time
    ("2h + 30m", "2h30m"), ("6h - 1h", "5h"), ("2h * 3", "6h"), ("3 * 2h", "6h"), ("6h / 2", "3h"),
    ("6h / 1h", "6"), ("7h % 2h", "1h"), ("-2h", "-2h"), ("change.d", "1h30m"), ("change.d * 2", "3h"),
    ("change.t + 2h", "2026-12-03T05:30:00Z"), ("change.t - 1d", "2026-12-02T03:30:00Z"),
    ("change.t - 2026-12-03T00:00Z", "3h30m"), ("2026-12-03T00:00Z - change.t", "-3h30m"),
    ("change.t > 2026-12-01T00:00Z", "true"), ("change.t < 2026-12-01T00:00Z", "false"),
    ("change.t == 2026-12-03T03:30Z", "true"), ("change.t + change.d", "2026-12-03T05:00:00Z"),
    ("now", "2026-12-03T03:30:00Z"), ("now - change.t", "0s"),
    # comparisons
    ("1 < 2", "true"), ("2 <= 2", "true"), ("3 > 4", "false"), ("3 >= 4", "false"), ("1 == 1.0", "true"),
    ("1 != 2", "true"), ('"a" < "b"', "true"), ('"b" < "a"', "false"), ('"ab" < "abc"', "true"),
    ('"Z" < "a"', "true"), ('"é" > "z"', "true"), ("2.5 > 2", "true"), ("null == null", "true"),
    ('change.nothing == null', "true"), ('change.opt != null', "true"), ("[1, 2] == [1, 2]", "true"),
    ("[1, 2] == [2, 1]", "false"), ('"1" == "1"', "true"), ("6h > 5h", "true"), ("90s == 1m30s", "true"),
    ('change.env == "prod"', "true"), ('change.env != "dev"', "true"), ('change.env < "staging"', "true"),
    # boolean logic and short circuit
    ("true and false", "false"), ("true or false", "true"), ("not true", "false"), ("not (1 > 2)", "true"),
    ("false and (1 / 0 == 1)", "false"), ("true or (1 / 0 == 1)", "true"), ("not not true", "true"),
    ("true and true and false", "false"), ("false or false or true", "true"),
    # if
    ('if true then "y" else "n"', "y"), ('if 1 > 2 then "y" else "n"', "n"),
    ('if change.nothing == null then "none" else change.nothing', "none"),
    ("if change.ok then 1 else 2", "1"), ("if false then 1 else if true then 2 else 3", "2"),
    # null handling, ?? and optional fields
    ('change.opt ?? "fallback"', "x-1"), ('change.nothing ?? "fallback"', "fallback"),
    ("change.owner.team", "null"), ('change.owner.team ?? "none"', "none"), ("change.owner.name", "ann"),
    ("change.dflt", "7"), ("change.items[1]?.note", "primary"), ("change.items[0]?.note", "null"),
    ("change.items[5]", "null"), ('change.items[5]?.name ?? "no item"', "no item"), ("change.tags[0]", "a"),
    ("change.tags[3]", "null"), ("change.tags[-1]", "null"), ("change.empty[0]", "null"),
    # in
    ('"a" in change.tags', "true"), ('"z" in change.tags', "false"), ('"x" in change.empty', "false"),
    ('change.env in ["prod", "staging"]', "true"), ('change.env in ["dev"]', "false"),
    ('"llo" in change.s', "true"), ('"" in "abc"', "true"), ('"abc" in "ab"', "false"), ("2 in [1, 2, 3]", "true"),
    ("2.0 in [1, 2, 3]", "true"), ("now in [now]", "true"),
    # quantifiers
    ('any x in change.tags: x == "b"', "true"), ('any x in change.empty: x == "b"', "false"),
    ('all x in change.tags: len(x) == 1', "true"), ("all x in change.empty: false", "true"),
    ('count(x in change.tags where x != "b")', "2"), ("count(x in change.empty where true)", "0"),
    ("any i in change.items: i.size > 5", "true"), ("all i in change.items: i.size > 5", "false"),
    ("count(i in change.items where i.note != null)", "1"),
    ('any i in change.items: i.note != null and startswith(i.note, "pri")', "true"),
    ("count(x in [1, 2, 3, 4] where x % 2 == 0)", "2"),
    ("any x in [1, 2]: any y in [2, 3]: x == y", "true"), ("all x in [1, 2]: any y in [2, 3]: x == y", "false"),
    ("count(x in change.tags where any y in change.tags: y < x)", "2"),
    ("any x in [1, 2, 3]: x > 2", "true"),
    # regex
    ('change.s matches r"^h.llo"', "true"), ('change.s matches r"w.rld$"', "true"),
    ('change.s matches r"^world"', "false"), ('"abc" matches r"b"', "true"), ('"ABC" matches r"(?i)abc"', "true"),
    ('"é" matches r"^.$"', "true"), ('"x-1" matches r"^[a-z]-\\d+$"', "true"), ('"" matches r"^$"', "true"),
    ('change.opt != null and change.opt matches r"-1$"', "true"), ('"a.b" matches r"a\\.b"', "true"),
    ('"axb" matches r"a\\.b"', "false"), ('"2026-12-03" matches r"^\\d{4}-\\d{2}-\\d{2}$"', "true"),
    # strings
    ('len("héllo")', "5"), ('len("")', "0"), ("len(change.tags)", "3"), ("len(change.empty)", "0"),
    ('len("\\u{1F600}")', "1"), ('lower("ÀBC")', "Àbc"), ('upper("abc é")', "ABC é"), ("lower(change.s)", "héllo wörld"),
    ('startswith("prod-api", "prod")', "true"), ('startswith("api", "prod")', "false"),
    ('endswith("file.chg", ".chg")', "true"), ('endswith("a", "abc")', "false"),
    ('startswith("x", "")', "true"), ('glob("payments-api", "pay*")', "true"), ('glob("payments", "*ments")', "true"),
    ('glob("payments", "p?yments")', "true"), ('glob("payments", "p[aeiou]yments")', "true"),
    ('glob("pxyments", "p[!x]yments")', "false"), ('glob("a", "*")', "true"), ('glob("", "*")', "true"),
    ('glob("abc", "a*c*")', "true"), ('glob("abc", "a*d")', "false"), ('glob("é", "?")', "true"),
    ('glob("a*b", "a\\\\*b")', "true"), ('glob("axb", "a\\\\*b")', "false"),
    ("string(42)", "42"), ("string(true)", "true"), ("string(null)", "null"), ("string(1.25)", "1.25"),
    ("string(6h)", "6h"), ('string("s")', "s"), ("string([1, 2])", "[1, 2]"),
    ('int("42")', "42"), ('int("-7")', "-7"), ("int(3.0)", "3"), ("int(12)", "12"),
    ('time("2026-12-03T03:30:00Z")', "2026-12-03T03:30:00Z"), ('time("2026-12-03T04:30:00+01:00")', "2026-12-03T03:30:00Z"),
    ('time("2026-12-03T03:30:00.123Z")', "2026-12-03T03:30:00Z"), ("seconds(2m)", "120"),
    # calendar functions in zones
    ('hour(change.t, "UTC")', "3"), ('hour(change.t, "America/New_York")', "22"),
    ('weekday(change.t, "UTC")', "thu"), ('weekday(change.t, "America/New_York")', "wed"),
    ('day(change.t, "America/New_York")', "2"), ('month(change.t, "Asia/Kathmandu")', "12"),
    ('minute(change.t, "Asia/Kathmandu")', "15"), ('hour(change.t, "Asia/Kathmandu")', "9"),
    ('year(2026-12-31T23:30Z, "Asia/Tokyo")', "2027"), ('hour(2026-07-01T12:00Z, "Europe/Berlin")', "14"),
    ('hour(2026-01-01T12:00Z, "Europe/Berlin")', "13"), ('weekday(2026-11-29T12:00Z, "UTC")', "sun"),
    # risk
    ("risk", "high"), ("risk >= high", "true"), ("risk > low", "true"), ("risk == low", "false"),
    ("[low, high]", "[low, high]"), ("risk in [low, high]", "true"),
    # lets
    ("doubled", "84"), ("doubled + 1", "85"), ("chain", "86"),
    # objects
    ('{ a: 1, b: "x" }', '{"a":1,"b":"x"}'), ('{ a: 1 }.a', "1"), ('{ a: [1, 2] }.a[1]', "2"),
    ("{ when: change.t, d: 6h }", '{"when":"2026-12-03T03:30:00Z","d":"6h"}'),
]

LETS = "let doubled = change.n * 2\nlet chain = doubled + two\nlet two = 2\n"

# Dynamic: no schema; values come as JSON gives them.
DYN_CHANGE = {
    "id": "d1", "n": 5, "s": "text", "list": [1, "two", None, {"k": "v"}], "obj": {"a": {"b": [10, 20]}},
    "when": "2026-01-15T10:00:00Z", "flag": False, "z": 0, "big": 9223372036854775807, "neg": -3, "fl": 0.5,
    "recs": [{"name": "a", "n": 1}, {"name": "b"}],
}
DYN = [
    ("change.n + 1", "6"), ("change.s", "text"), ("change.missing", "null"), ("change.missing == null", "true"),
    ('change.missing ?? "dflt"', "dflt"), ("change.obj.a.b[1]", "20"), ('change.obj["a"]["b"][0]', "10"),
    ("change.obj.x.y", "null"), ("change.s.x", "null"), ("change.list[1]", "two"), ("change.list[2]", "null"), ("len(change.list)", "4"),
    ("change.list[3].k", "v"), ('change.list[3]["k"]', "v"), ("change.flag", "false"), ("not change.flag", "true"),
    ("change.z == 0", "true"), ("change.fl * 2", "1.0"), ("change.neg * change.neg", "9"),
    ("change.when", "2026-01-15T10:00:00Z"), ("time(change.when) + 1h", "2026-01-15T11:00:00Z"),
    ("now > change.when", "true"), ("change.when < now", "true"), ('hour(change.when, "UTC")', "10"),
    ('"two" in change.list', "true"), ("any x in change.list: x == 1", "true"),
    ("count(r in change.recs where r.n != null)", "1"), ('any r in change.recs: r.name == "b"', "true"),
    ("change.recs[1].n", "null"), ("change.obj", '{"a":{"b":[10,20]}}'), ("change.list", '[1, two, null, {"k":"v"}]'),
    ("change.big", "9223372036854775807"), ('change.s == "text"', "true"), ("change.n == 5.0", "true"),
    ("change.s matches r\"^t\"", "true"), ("lower(change.s)", "text"),
]

# Errors: (expression, piece of the message); each runs alone.
ERRORS_TYPED = [
    ("9223372036854775807 + 1", "integer overflow"), ("-9223372036854775807 - 2", "integer overflow"),
    ("9223372036854775807 * 2", "integer overflow"), ("1 / 0", "division by zero"), ("1 % 0", "division by zero"),
    ("change.n / (change.n - 42)", "division by zero"), ("6h / 0", "division by zero"), ("1.0 / 0", "division by zero"),
    ('int("4x")', "is not a decimal integer"), ("int(2.5)", "not a whole number"), ('time("yesterday")', "RFC 3339"),
    ('aws.cloudwatch.alarm_state("x") == "OK"', "no answer for aws.cloudwatch.alarm_state(\"x\")"),
    ('-(-9223372036854775807 - 1) > 0', "integer overflow"),
]
ERRORS_DYN = [
    ("change.s + 1", "operator '+' cannot be applied to string and int"),
    ("change.n < \"a\"", "cannot compare int with string"), ("not change.n", "operator 'not' cannot be applied to int"),
("change.n[0]", "cannot index int with int"),
    ("any x in change.n: true", "cannot iterate over int"), ("change.big + 1", "integer overflow"),
    ("lower(change.n)", "lower: argument 1 must be string, found int"), ("change.n and true", "expected a bool, found int"),
    ("hour(change.s, \"UTC\")", "\"text\" is not an RFC 3339 instant"), ("time(change.s)", "RFC 3339"),
    ("change.s matches r\"x\" and change.n", "expected a bool, found int"), ("len(change.n)", "len: argument must be"),
    ("change.when + 1h", "operator '+' cannot be applied to string and duration"),
    ("now > change.s", "is not an RFC 3339 instant"),
]
# The whole change against the schema, before any rule runs: each case
# changes TYPED_CHANGE (DEL removes a field) and lists every message the
# `error` decision must give, in order (rule null, source the field's
# declaration); [] means the change fits and the rule runs. Every schema
# type missing, null, mistyped and out of range, optional and default
# fields, lists of scalars and of records, nested records.
DEL = object()
SCHEMA_CASES = [
    # string
    ({"s": DEL}, ["change.s is required but missing"]),
    ({"s": None}, ["change.s is required but null"]),
    ({"s": 5}, ["change.s: expected string, found an integer"]),
    # int (an integer beyond int64 is refused as JSON: tests/cli)
    ({"n": DEL}, ["change.n is required but missing"]),
    ({"n": None}, ["change.n is required but null"]),
    ({"n": "12"}, ["change.n: expected int, found a string"]),
    ({"n": 1.5}, ["change.n: expected int, found a float"]),
    ({"n": 3.0}, ["change.n: expected int, found a float"]),
    ({"n": -9223372036854775808}, []),
    # float: an integer is a float too
    ({"f": DEL}, ["change.f is required but missing"]),
    ({"f": None}, ["change.f is required but null"]),
    ({"f": "2.5"}, ["change.f: expected float, found a string"]),
    ({"f": True}, ["change.f: expected float, found true"]),
    ({"f": 3}, []),
    # bool
    ({"ok": DEL}, ["change.ok is required but missing"]),
    ({"ok": None}, ["change.ok is required but null"]),
    ({"ok": "true"}, ["change.ok: expected bool, found a string"]),
    ({"ok": 1}, ["change.ok: expected bool, found an integer"]),
    # time: RFC 3339, years 0000-9999 after the offset is applied
    ({"t": DEL}, ["change.t is required but missing"]),
    ({"t": None}, ["change.t is required but null"]),
    ({"t": 1764732600}, ["change.t: expected time (an RFC 3339 string), found an integer"]),
    ({"t": "last tuesday"}, ['change.t: "last tuesday" is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "2026-02-30T00:00:00Z"}, ['change.t: "2026-02-30T00:00:00Z" is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "2026-12-03T03:30:00"}, ['change.t: "2026-12-03T03:30:00" is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "10000-01-01T00:00:00Z"}, ['change.t: "10000-01-01T00:00:00Z" is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "0000-01-01T00:00:00+01:00"}, ['change.t: "0000-01-01T00:00:00+01:00" is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "x" * 100}, ['change.t: "' + "x" * 64 + '"… is not an RFC 3339 instant in the years 0000-9999']),
    ({"t": "9999-12-31T23:59:59Z"}, []),
    ({"t": "0000-01-01T00:00:00Z"}, []),
    # duration: whole seconds
    ({"d": DEL}, ["change.d is required but missing"]),
    ({"d": None}, ["change.d is required but null"]),
    ({"d": "2h"}, ["change.d: expected duration (whole seconds), found a string"]),
    ({"d": 1.5}, ["change.d: expected duration (whole seconds), found a float"]),
    # enum
    ({"env": DEL}, ["change.env is required but missing"]),
    ({"env": None}, ["change.env is required but null"]),
    ({"env": "qa"}, ['change.env: "qa" is not one of "dev", "staging", "prod"']),
    ({"env": "Prod"}, ['change.env: "Prod" is not one of "dev", "staging", "prod"']),
    ({"env": 2}, ['change.env: expected one of "dev", "staging", "prod", found an integer']),
    # a list of scalars
    ({"tags": DEL}, ["change.tags is required but missing"]),
    ({"tags": None}, ["change.tags is required but null"]),
    ({"tags": "a"}, ["change.tags: expected a list, found a string"]),
    ({"tags": ["a", 1, None]}, ["change.tags[1]: expected string, found an integer",
                                "change.tags[2]: expected string, found null"]),
    # a record
    ({"owner": DEL}, ["change.owner is required but missing"]),
    ({"owner": None}, ["change.owner is required but null"]),
    ({"owner": "ann"}, ["change.owner: expected an object, found a string"]),
    ({"owner": {}}, ["change.owner.name is required but missing"]),
    ({"owner": {"name": 42, "team": None}}, ["change.owner.name: expected string, found an integer"]),
    ({"owner": {"name": "ann", "team": 7}}, ["change.owner.team: expected string, found an integer"]),
    # a list of records
    ({"items": [{"name": "x"}]}, ["change.items[0].size is required but missing"]),
    ({"items": [{"name": "x", "size": 1}, {"name": "y", "size": "2", "note": 5}]},
     ["change.items[1].size: expected int, found a string", "change.items[1].note: expected string, found an integer"]),
    ({"items": [None, 5, []]}, ["change.items[0]: expected an object, found null",
                                "change.items[1]: expected an object, found an integer",
                                "change.items[2]: expected an object, found a list"]),
    # optional: missing or null is fine, a wrong type is not
    ({"opt": DEL, "nothing": DEL}, []),
    ({"opt": None}, []),
    ({"opt": 5}, ["change.opt: expected string, found an integer"]),
    # default: missing or null takes the default, a wrong type is an error
    ({"dflt": DEL}, []),
    ({"dflt": None}, []),
    ({"dflt": "7"}, ["change.dflt: expected int, found a string"]),
    # every offending path, in schema order
    ({"id": 1, "n": DEL, "t": "soon", "owner": {"name": None}},
     ["change.id: expected string, found an integer", "change.n is required but missing",
      'change.t: "soon" is not an RFC 3339 instant in the years 0000-9999', "change.owner.name is required but null"]),
    # a hostile change lists 20 and counts the rest
    ({"tags": list(range(30))}, [f"change.tags[{i}]: expected string, found an integer" for i in range(20)]
     + ["and 10 more fields that do not fit the schema"]),
]


def run_eval(chgc, policy, change, at="2026-12-03T03:30:00Z"):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "p.chg")
        e = os.path.join(d, "e.json")
        open(p, "w", encoding="utf-8").write(policy)
        open(e, "w", encoding="utf-8").write(json.dumps(change))
        r = subprocess.run([chgc, "eval", p, "--event", e, "--at", at], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"chgc eval exit {r.returncode}: {r.stderr.decode()}")
        return json.loads(r.stdout)


def warn_rules(cases):
    return "".join(f'rule c{i} advisory:\n  warn "{{{expr}}}"\n' for i, (expr, _) in enumerate(cases))


def main():
    chgc = os.path.abspath(sys.argv[1])
    failures = 0
    total = 0

    def check_group(header, change, cases):
        nonlocal failures, total
        policy = header + warn_rules(cases)
        dec = run_eval(chgc, policy, change)
        if dec["outcome"] == "error":
            print(f"FAIL group: evaluation failed: {dec['reasons']}")
            failures += len(cases)
            total += len(cases)
            return
        got = {w["rule"]: w["message"] for w in dec["warnings"]}
        for i, (expr, want) in enumerate(cases):
            total += 1
            g = got.get(f"c{i}")
            if g != want:
                failures += 1
                print(f"FAIL {expr!r}: got {g!r}, want {want!r}")

    typed_header = SCHEMA + "risk low < high\nclassify { high when change.env == \"prod\" default low }\n" + LETS + "at change.t\n"
    check_group(typed_header, TYPED_CHANGE, TYPED)
    check_group("at time(change.when) + 30d\n", DYN_CHANGE, DYN)

    def check_error(header, change, expr, want):
        nonlocal failures, total
        total += 1
        dec = run_eval(chgc, header + f'rule e advisory:\n  warn "{{{expr}}}"\n', change)
        msg = dec["reasons"][0]["message"] if dec["reasons"] else ""
        if dec["outcome"] != "error" or want not in msg or dec["reasons"][0]["rule"] != "e" or \
                not dec["reasons"][0]["source"].endswith(":2:10") and ":" not in dec["reasons"][0]["source"]:
            failures += 1
            print(f"FAIL error case {expr!r}: outcome {dec['outcome']}, reasons {dec['reasons']}, want {want!r}")

    for expr, want in ERRORS_TYPED:
        check_error(typed_header, TYPED_CHANGE, expr, want)
    for expr, want in ERRORS_DYN:
        check_error("at time(change.when) + 30d\n", DYN_CHANGE, expr, want)
    # the schema cases: the rule shows the default, so a change that fits
    # proves the rule ran and the default was applied
    schema_header = SCHEMA + 'rule e advisory:\n  warn "{change.dflt}"\n'
    for patch, want in SCHEMA_CASES:
        total += 1
        change = dict(TYPED_CHANGE)
        for k, v in patch.items():
            if v is DEL:
                change.pop(k, None)
            else:
                change[k] = v
        dec = run_eval(chgc, schema_header, change)
        if want:
            got = [r["message"] for r in dec["reasons"]]
            ok = dec["outcome"] == "error" and got == want and all(r["rule"] is None for r in dec["reasons"]) \
                and dec["risk"] is None and dec["warnings"] == []
            # each message but "and N more" names the field's declaration
            ok = ok and all((r["source"] is None) == r["message"].startswith("and ") for r in dec["reasons"])
            if patch == {"s": 5} or patch == {"owner": {}}:  # the declaration of s, of owner's name
                ok = ok and dec["reasons"][0]["source"].endswith("p.chg:6:3" if "s" in patch else "p.chg:15:12")
        else:
            want_text = str(change["dflt"]) if change.get("dflt") is not None else "7"
            ok = dec["outcome"] == "allow" and [w["message"] for w in dec["warnings"]] == [want_text]
        if not ok:
            failures += 1
            print(f"FAIL schema case {patch!r}: outcome {dec['outcome']}, reasons {dec['reasons']}, "
                  f"warnings {dec['warnings']}, want {want!r}")

    print(f"{total - failures}/{total} expression cases pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
