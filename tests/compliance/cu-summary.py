#!/usr/bin/env python3
"""Summarise an `iscsi-test-cu` log.

iscsi-test-cu (CUnit) prints "Suite: S", then "  Test: T ..." followed by
"passed" or "FAILED"; a test that printed "[SKIPPED]" still counts as passed
for CUnit, so we count it as skipped.

usage: cu-summary.py LOG [--list OUT] [--must-pass FILE]
  --list OUT        write "Suite.Test status" lines (status passed/failed/skipped)
  --must-pass FILE  every "Suite.Test" listed there must have passed here
                    (used with the list of tests that pass on tgt)
Exit status: 0 when nothing failed (and every must-pass test passed), 1 otherwise.
"""
import re
import sys


def parse(path):
    results = {}
    order = []
    suite = None
    test = None
    skipped = False
    text = open(path, errors="replace").read()
    # Verdicts may follow log output on the same line; split on the markers.
    for line in text.splitlines():
        m = re.match(r"^Suite: (\S+)", line)
        if m:
            suite = m.group(1)
            continue
        m = re.match(r"^\s+Test: (\S+) \.\.\.(.*)$", line)
        if m:
            test = f"{suite}.{m.group(1)}"
            skipped = "[SKIPPED]" in m.group(2)
            rest = m.group(2)
            if rest.startswith("passed"):
                record(results, order, test, "passed")
                test = None
            elif rest.startswith("FAILED"):
                record(results, order, test, "failed")
                test = None
            elif rest.rstrip().endswith("passed"):
                record(results, order, test, "skipped" if skipped else "passed")
                test = None
            elif rest.rstrip().endswith("FAILED"):
                record(results, order, test, "failed")
                test = None
            continue
        if test is None:
            continue
        if "[SKIPPED]" in line:
            skipped = True
        s = line.strip()
        if s.startswith("passed"):
            record(results, order, test, "skipped" if skipped else "passed")
            test = None
        elif s.startswith("FAILED"):
            record(results, order, test, "failed")
            test = None
        elif s.endswith("passed") and (s == "passed" or not s.startswith("[")):
            record(results, order, test, "skipped" if skipped else "passed")
            test = None
        elif s == "FAILED" or s.endswith("FAILED"):
            record(results, order, test, "failed")
            test = None
    return results, order


def record(results, order, test, status):
    if test not in results:
        order.append(test)
    results[test] = status


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    log = args[0]
    out = None
    must = None
    if "--list" in args:
        out = args[args.index("--list") + 1]
    if "--must-pass" in args:
        must = args[args.index("--must-pass") + 1]
    results, order = parse(log)
    suites = {}
    for t in order:
        s = t.split(".")[0]
        suites.setdefault(s, {"passed": 0, "failed": 0, "skipped": 0})
        suites[s][results[t]] += 1
    tot = {"passed": 0, "failed": 0, "skipped": 0}
    print(f"{'suite':28} {'passed':>6} {'failed':>6} {'skipped':>7}")
    for s, c in suites.items():
        print(f"{s:28} {c['passed']:6} {c['failed']:6} {c['skipped']:7}")
        for k in tot:
            tot[k] += c[k]
    print(f"{'total (' + str(len(order)) + ' tests)':28} {tot['passed']:6} {tot['failed']:6} {tot['skipped']:7}")
    failed = [t for t in order if results[t] == "failed"]
    for t in failed:
        print(f"FAILED: {t}")
    if out:
        with open(out, "w") as f:
            for t in order:
                f.write(f"{t} {results[t]}\n")
    bad = bool(failed)
    if must:
        missing = []
        for line in open(must):
            name = line.split()[0] if line.strip() and not line.startswith("#") else None
            if name and results.get(name) != "passed":
                missing.append(f"{name} ({results.get(name, 'not run')})")
        for m in missing:
            print(f"PASSES ON TGT BUT NOT HERE: {m}")
        print(f"tests that pass on tgt: {sum(1 for l in open(must) if l.strip() and not l.startswith('#'))}, "
              f"of those not passing here: {len(missing)}")
        bad = bad or bool(missing)
    print(f"compliance: {tot['passed']} passed, {tot['failed']} failed, {tot['skipped']} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
