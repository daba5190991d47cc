#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise the raw CSV written by run-bench.sh into Markdown tables (stdout).

Usage: bench-summary.py RAW.csv [KEYS.tsv]

Every cell is the median over the runs of that (media, workload, target) that
finished with exit status 0; the "runs" column shows ok/total so that a failed
run can never disappear from view. "other CPUs" is the largest, over those
runs, of the machine's busy CPUs that were neither the client nor the target:
the noise indicator (this VM is shared).
"""
import csv
import statistics
import sys

WORKLOAD_ORDER = ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1",
                  "randwrite-4k-qd32", "read-1m-qd8", "write-1m-qd8"]


def num(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def med(vals):
    vals = [v for v in vals if v == v]
    return statistics.median(vals) if vals else float("nan")


def fmt(v, digits=0):
    if v != v:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def worder(w):
    return (WORKLOAD_ORDER.index(w) if w in WORKLOAD_ORDER else 99, w)


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def group(rows):
    cells = {}
    for r in rows:
        cells.setdefault((r["media"], r["workload"], r["target"]), []).append(r)
    return cells


def cell_stats(runs):
    ok = [r for r in runs if r["rc"] == "0"]
    s = {"ok": len(ok), "total": len(runs)}
    for k in ("iops", "mib_s", "lat_p50_us", "lat_p99_us", "lat_mean_us"):
        s[k] = med([num(r, k) for r in ok])
    tcpu, ccpu, other, per_mio = [], [], [], []
    for r in ok:
        win, ios = num(r, "window_s"), num(r, "ios")
        t = num(r, "target_cpu_s")
        c = num(r, "client_user_s") + num(r, "client_sys_s")
        busy = num(r, "sys_busy_cpu_s")
        if win > 0:
            tcpu.append(t / win)
            ccpu.append(c / win)
            other.append((busy - c - (t if t == t else 0.0)) / win)
        if ios > 0:
            per_mio.append(t / ios * 1e6)
    s["target_cpus"] = med(tcpu)
    s["client_cpus"] = med(ccpu)
    s["target_cpu_per_mio"] = med(per_mio)
    s["other_max"] = max(other) if other else float("nan")
    return s


def iscsi_table(cells, targets):
    print("| media | workload | target | IOPS | MiB/s | p50 µs | p99 µs | target CPU-s per 1M I/O "
          "| target CPUs | client CPUs | other CPUs (max) | runs ok |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = sorted({(m, w) for (m, w, t) in cells if t in targets}, key=lambda k: (k[0], worder(k[1])))
    for m, w in keys:
        for t in targets:
            runs = cells.get((m, w, t))
            if not runs:
                continue
            s = cell_stats(runs)
            print(f"| {m} | {w} | {t} | {fmt(s['iops'])} | {fmt(s['mib_s'], 1)} "
                  f"| {fmt(s['lat_p50_us'], 1)} | {fmt(s['lat_p99_us'], 1)} "
                  f"| {fmt(s['target_cpu_per_mio'], 1)} | {fmt(s['target_cpus'], 2)} "
                  f"| {fmt(s['client_cpus'], 2)} | {fmt(s['other_max'], 2)} "
                  f"| {s['ok']}/{s['total']} |")


def ratio_table(cells, ours, refs):
    refs = [t for t in refs if any(k[2] == t for k in cells)]
    if not any(k[2] == ours for k in cells) or not refs:
        print(f"_No ratios: the run did not include both `{ours}` and a tgt target._")
        return
    head = "| media | workload |"
    for t in refs:
        head += f" IOPS {ours}/{t} | CPU efficiency vs {t} |"
    print(head)
    print("|---|---|" + "---:|---:|" * len(refs))
    keys = sorted({(m, w) for (m, w, t) in cells if t == ours}, key=lambda k: (k[0], worder(k[1])))
    for m, w in keys:
        a = cell_stats(cells[(m, w, ours)])
        line = f"| {m} | {w} |"
        for t in refs:
            if (m, w, t) not in cells:
                line += " – | – |"
                continue
            b = cell_stats(cells[(m, w, t)])
            r_iops = a["iops"] / b["iops"] if b["iops"] > 0 else float("nan")
            r_cpu = (b["target_cpu_per_mio"] / a["target_cpu_per_mio"]
                     if a["target_cpu_per_mio"] > 0 else float("nan"))
            line += f" {fmt(r_iops, 2)} | {fmt(r_cpu, 2)} |"
        print(line)


def fio_table(cells):
    print("| media | workload | fio mode | IOPS | MiB/s | p50 µs | p99 µs | fio CPUs (usr+sys, with io-wq) | runs ok |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    keys = sorted({k for k in cells if k[2].startswith("fio-")},
                  key=lambda k: (k[0], worder(k[1]), k[2]))
    for k in keys:
        s = cell_stats(cells[k])
        print(f"| {k[0]} | {k[1]} | {k[2][4:]} | {fmt(s['iops'])} | {fmt(s['mib_s'], 1)} "
              f"| {fmt(s['lat_p50_us'], 1)} | {fmt(s['lat_p99_us'], 1)} "
              f"| {fmt(s['client_cpus'], 2)} | {s['ok']}/{s['total']} |")


def perf_table(cells):
    print("| media | workload | target | iscsi-bench IOPS | iscsi-perf IOPS | bench/perf |")
    print("|---|---|---|---:|---:|---:|")
    keys = sorted({k for k in cells if k[2].startswith("iscsi-perf:")},
                  key=lambda k: (k[0], worder(k[1]), k[2]))
    for m, w, p in keys:
        t = p.split(":", 1)[1]
        b = cell_stats(cells.get((m, w, t), []))
        q = cell_stats(cells[(m, w, p)])
        r = b["iops"] / q["iops"] if q["iops"] > 0 else float("nan")
        print(f"| {m} | {w} | {t} | {fmt(b['iops'])} | {fmt(q['iops'])} | {fmt(r, 3)} |")


def keys_table(path):
    print("| media | target | target's login reply (keys it did not send take RFC 7143 defaults) |")
    print("|---|---|---|")
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                print(f"| {parts[0]} | {parts[1]} | `{parts[2].strip()}` |")


def main():
    rows = load(sys.argv[1])
    cells = group(rows)
    targets = []
    for r in rows:
        if not r["target"].startswith(("fio-", "iscsi-perf:")) and r["target"] not in targets:
            targets.append(r["target"])
    if len(sys.argv) > 2:
        print("### Negotiated iSCSI keys\n")
        keys_table(sys.argv[2])
        print()
    print("### iSCSI over loopback (iscsi-bench; medians)\n")
    iscsi_table(cells, targets)
    print("\n### Ours against tgt (ratios of the medians; > 1 means ours is better)\n")
    ratio_table(cells, "ours", [t for t in targets if t.startswith("tgt")])
    if any(k[2].startswith("fio-") for k in cells):
        print("\n### Local limit: fio (io_uring) on a backing file of the same kind\n")
        fio_table(cells)
    if any(k[2].startswith("iscsi-perf:") for k in cells):
        print("\n### Cross-check: iscsi-bench against libiscsi's iscsi-perf (reads)\n")
        perf_table(cells)
    bad = [r for r in rows if r["rc"] != "0"]
    print(f"\nFailed runs: {len(bad)} of {len(rows)}.")
    for r in bad:
        print(f"* run {r['run_id']}: {r['media']} {r['workload']} {r['target']} "
              f"round {r['round']}: exit {r['rc']}")


if __name__ == "__main__":
    main()
