#!/usr/bin/env python3
"""The layers of libchg, as docs/internals.md draws them, checked.

    check_layers.py REPO_ROOT LIBCHG.a

1. Includes go one way: each folder includes only what its layer may (the
   public headers of include/, its own headers, and the few shared ones
   listed below).
2. Link dependencies go the same way: no object of a lower layer needs a
   symbol that a higher layer defines (so the compiler never needs the VM
   at run time, nor stdlib anything above it).
3. Every symbol the library exports is either declared in a public header
   (the API) or carries its module's internal prefix (chg_c_, chg_vm_,
   chg_ti_), so a name says where it lives.
"""
import os
import re
import subprocess
import sys

root, lib = sys.argv[1], sys.argv[2]

PUBLIC = {"chg_base.h", "chg_civil.h", "chg_time.h", "chg_compiler.h", "chg_diag.def", "chg_vm.h",
          "chg_driver.h", "chg_aws.h"}
# What each folder may include besides the public headers and its own files.
# The compiler writes bundles: it may read the bundle format, which is the
# format header and the tables it includes (the bundle format, opcodes,
# built-ins).
SHARED = {
    "stdlib": set(),
    "grammar": {"compiler", "gen"},
    "compiler": {"vm/bundle_format.h", "vm/bundle_format.def", "vm/opcodes.def", "vm/builtins.def", "gen"},
    "vm": {"stdlib/time_int.h"},
    "driver": set(),
    "cli": set(),
    "daemon": set(),
}
# Layer order for link dependencies: a module may use the ones before it.
ORDER = {"stdlib": 0, "compiler": 1, "vm": 1, "driver": 2}
PREFIX = {"stdlib": "chg_ti_", "compiler": "chg_c_", "vm": "chg_vm_", "driver": "chg_drv_"}

problems = []

# ---- 1. includes -------------------------------------------------------------------
files = subprocess.check_output(["git", "-C", root, "ls-files"], text=True).split()
owner = {}  # header basename -> folder
for f in files:
    d, _, name = f.partition("/")
    if d in SHARED and name.endswith((".h", ".def")):
        owner[name] = d
        if "/" in name:  # a sub-folder's own headers (stdlib/aws/), included by their name there
            owner.setdefault(os.path.basename(name), d)
for f in files:
    d, _, name = f.partition("/")
    if d not in SHARED or not name.endswith((".c", ".cc", ".h", ".l", ".y", ".def")):
        continue
    text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
    for lineno, inc in ((text.count("\n", 0, m.start()) + 1, m.group(1))
                        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', text, re.M)):
        if inc in PUBLIC:
            continue
        if inc in ("parser.h", "lexer.h"):
            where = "gen"
        elif inc in owner:
            where = owner[inc]
        else:
            problems.append(f"{f}:{lineno}: includes \"{inc}\", which is no header of the library")
            continue
        if where == d or where in SHARED[d] or f"{where}/{inc}" in SHARED[d]:
            continue
        problems.append(f"{f}:{lineno}: includes {where}/{inc}; the {d} layer may not (docs/internals.md)")

# ---- 2 and 3. symbols ------------------------------------------------------------------
module_of = {}  # object basename -> folder
for f in files:
    d, _, name = f.partition("/")
    if d in ORDER and name.endswith((".c", ".cc")):
        if name + ".o" in module_of:
            problems.append(f"{f}: two sources named {name}: objects in libchg.a must have unique names")
        module_of[name + ".o"] = d
module_of["parser.c.o"] = module_of["lexer.c.o"] = "compiler"

defined, undefined = {}, {}
member = None
for line in subprocess.check_output(["nm", lib], text=True).splitlines():
    if line.endswith(":"):
        member = line[:-1]
        continue
    parts = line.split()
    if not parts or member not in module_of:
        continue
    mod = module_of[member]
    if len(parts) == 2 and parts[0] == "U":
        undefined.setdefault(mod, set()).add(parts[1])
    elif len(parts) == 3 and parts[1] in "TDRBC" and not parts[2].startswith("__odr_asan"):
        if parts[2] in defined and defined[parts[2]] != mod:
            problems.append(f"{parts[2]} is defined in both {defined[parts[2]]} and {mod}")
        defined[parts[2]] = mod

for mod, syms in sorted(undefined.items()):
    for s in sorted(syms):
        other = defined.get(s)
        if other and other != mod and ORDER[other] >= ORDER[mod]:
            problems.append(f"{mod} uses {s}, which {other} defines: {mod} may not depend on {other}")

public_text = "".join(open(os.path.join(root, "include", h), encoding="utf-8").read() for h in PUBLIC)
for s, mod in sorted(defined.items()):
    if s.startswith(PREFIX[mod]) or (mod == "compiler" and s.startswith("chg_c_yy")):
        continue
    if not re.search(r"\b%s\b" % re.escape(s), public_text):
        problems.append(f"{s} ({mod}) is exported but neither public (include/) nor prefixed {PREFIX[mod]}")

for p in problems:
    print(p)
print(f"layers: {len(problems)} problems; {len(defined)} exported symbols in {len(module_of)} objects")
sys.exit(1 if problems else 0)
