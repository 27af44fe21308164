#!/usr/bin/env python3
"""Every opcode's handler in vm/interp.c carries its meaning: the line just
above its CASE(NAME) must be `/* NAME: meaning */`, the meaning exactly as
vm/opcodes.def gives it. Fails on a missing, different or extra handler.

    opcode_comments.py vm/opcodes.def vm/interp.c
"""
import re
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: opcode_comments.py opcodes.def interp.c")
    ops = {}
    order = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            m = re.match(r'CHG_OP\((\w+),\s*"[^"]*",\s*"(.*)"\)\s*$', line)
            if m:
                ops[m.group(1)] = m.group(2).replace('\\"', '"')
                order.append(m.group(1))
    if not ops:
        sys.exit(f"{sys.argv[1]}: no CHG_OP lines")
    with open(sys.argv[2], encoding="utf-8") as f:
        lines = f.read().split("\n")
    errors = []
    seen = {}
    for i, line in enumerate(lines):
        m = re.match(r"\s*CASE\((\w+)\)", line)
        if not m:
            continue
        name = m.group(1)
        where = f"{sys.argv[2]}:{i + 1}"
        if name not in ops:
            errors.append(f"{where}: CASE({name}) is not an opcode of opcodes.def")
            continue
        if name in seen:
            errors.append(f"{where}: a second CASE({name}) (the first is at line {seen[name]})")
        seen[name] = i + 1
        want = f"/* {name}: {ops[name]} */"
        got = lines[i - 1].strip() if i else ""
        if got != want:
            errors.append(f"{where}: the line above CASE({name}) must be\n    {want}\n  not\n    {got}")
    for name in order:
        if name not in seen:
            errors.append(f"{sys.argv[2]}: no CASE({name}) for opcode {name}")
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print(f"{len(order)} opcodes, each handler with its meaning from opcodes.def")


main()
