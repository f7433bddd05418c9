#!/usr/bin/env python3
"""Aggregate bench_suite runs into one table (Markdown and JSON).

usage: report.py --runs DIR [--callgrind DIR] [--md FILE] [--json FILE]
                 [--git COMMIT] [--command CMD] [--load-before L] [--load-after L]

DIR holds run.<k>.json, one per process (bench_suite --json). For each op
the figure is the median over the processes of each process's median; for
each row the ratio is the median over the processes of each process's
ratio (both sides measured in the same process), with its range.

With --callgrind, DIR holds cg.json (bench_suite --callgrind --json) and the
callgrind dumps cg.<pid>.<n>, each named "<op>@<iters>" by the program:
instructions per op = (I(2N) - I(N)) / N, less the same of the empty loop,
divided by the op's operations per iteration.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys


def load_runs(d):
    runs = []
    for p in sorted(glob.glob(os.path.join(d, "run.*.json"))):
        with open(p) as f:
            runs.append(json.load(f))
    if not runs:
        sys.exit("report.py: no run.*.json in %s" % d)
    return runs


def load_callgrind(d):
    """op id -> instructions per operation."""
    meta_path = os.path.join(d, "cg.json")
    if not os.path.exists(meta_path):
        return {}, None
    with open(meta_path) as f:
        meta = json.load(f)
    per_iter = {o["id"]: o["per_iter"] for o in meta["ops"]}
    per_iter["empty"] = 1
    counts = {}
    for p in glob.glob(os.path.join(d, "cg.*.*")):
        name = total = None
        with open(p, errors="replace") as f:
            for line in f:
                m = re.match(r"desc: Trigger: Client Request: (\S+)@(\d+)", line)
                if m:
                    name = (m.group(1), int(m.group(2)))
                m = re.match(r"(?:totals|summary): (\d+)", line)
                if m:
                    total = int(m.group(1))
        if name and total is not None:
            counts[name] = total
    iters = meta.get("iters", 2000)
    slope = {}
    for (op, n), total in counts.items():
        if n == iters and (op, 2 * n) in counts:
            slope[op] = (counts[(op, 2 * n)] - total) / n
    empty = slope.get("empty", 0.0)
    instr = {op: (s - empty) / per_iter.get(op, 1) for op, s in slope.items() if op != "empty"}
    return instr, {"iters": iters, "empty_loop_instr": empty}


def ratio(kind, pk, peer):
    if not pk or not peer:
        return None
    return peer / pk if kind in ("GE", "GEINFO") else pk / peer


def goal_text(kind, goal):
    if kind == "LE":
        return "<= %.2g" % goal
    if kind == "GE":
        return ">= %.2g" % goal
    return "-"


def met(kind, goal, r):
    if r is None:
        return "not measured" if kind in ("LE", "GE") else "-"
    if kind == "LE":
        return "met" if r <= goal else "**not met**"
    if kind == "GE":
        return "met" if r >= goal else "**not met**"
    return "-"


def fmt(x, prec=2):
    return "-" if x is None else "%.*f" % (prec, x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--callgrind")
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--git", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    a = ap.parse_args()

    runs = load_runs(a.runs)
    instr, cg_meta = load_callgrind(a.callgrind) if a.callgrind else ({}, None)
    first = runs[0]

    # per op: the per-process medians
    op_ns = {}  # only timed ops: a --callgrind-only report has none
    what = {}
    for r in runs:
        for o in r["ops"]:
            if o["ns"] > 0:
                op_ns.setdefault(o["id"], []).append(o["ns"])
            what[o["id"]] = (o["what"], o["per_iter"], o["threaded"])
    timed = bool(op_ns)

    out_rows = []
    for row in first["rows"]:
        pk, peer, kind = row["pk"], row["peer"], row["kind"]
        per_proc = []
        for r in runs:
            ns = {o["id"]: o["ns"] for o in r["ops"]}
            x = ratio(kind, ns.get(pk), ns.get(peer)) if timed else None
            if x is not None:
                per_proc.append(x)
        pk_ns = statistics.median(op_ns[pk]) if pk in op_ns else None
        peer_ns = statistics.median(op_ns[peer]) if peer in op_ns else None
        rmed = statistics.median(per_proc) if per_proc else None
        ipk, ipeer = instr.get(pk), instr.get(peer)
        iratio = ratio(kind, ipk, ipeer) if ipk and ipeer and ipk > 0 and ipeer > 0 else None
        out_rows.append({
            "section": row["section"], "name": row["name"], "pk": pk, "peer": peer, "kind": kind,
            "goal": row["goal"] if kind in ("LE", "GE") else None,
            "pktmem_ns": pk_ns, "peer_ns": peer_ns, "ratio": rmed,
            "ratio_min": min(per_proc) if per_proc else None, "ratio_max": max(per_proc) if per_proc else None,
            "processes": len(per_proc),
            "pktmem_instr": ipk, "peer_instr": ipeer, "instr_ratio": iratio,
            "met": met(kind, row["goal"], rmed).strip("*"),
            "met_on_instr": met(kind, row["goal"], iratio).strip("*") if iratio is not None else None,
        })

    ops_out = []
    for op in what:
        v = op_ns.get(op)
        ops_out.append({"id": op, "what": what[op][0], "per_iter": what[op][1], "threaded": what[op][2],
                        "ns": statistics.median(v) if v else None, "ns_min": min(v) if v else None,
                        "ns_max": max(v) if v else None, "processes": len(v) if v else 0,
                        "instr": instr.get(op)})

    meta = {
        "date": first["date"], "cpu": first["cpu"], "nproc": first["nproc"], "kernel": first["kernel"],
        "compiler": first["compiler"], "build_type": first["build_type"], "git": a.git,
        "pktmem_version": first["pktmem_version"], "command": a.command, "processes": len(runs),
        "rounds": first["rounds"], "batch_ms": first["batch_ms"], "cpus": first["cpus"],
        "dpdk": first["dpdk"], "malloc_peers": first["malloc_peers"],
        "loadavg_before": a.load_before, "loadavg_after": a.load_after, "callgrind": cg_meta,
    }

    L = []
    L.append("## bench_suite: pktmem vs DPDK, glibc, jemalloc, mimalloc")
    L.append("")
    L.append("- date: %s; git %s; pktmem %s" % (meta["date"], a.git, meta["pktmem_version"]))
    L.append("- machine: %s, %s CPUs online (pinned to CPUs %s), Linux %s; load average before/after: %s / %s"
             % (meta["cpu"], meta["nproc"], "/".join(str(c) for c in meta["cpus"]), meta["kernel"],
                a.load_before or "?", a.load_after or "?"))
    L.append("- compiler: %s, build type %s" % (meta["compiler"], meta["build_type"]))
    L.append("- command: `%s`" % a.command)
    if timed:
        L.append("- method: %d processes x %d round-robin rounds of ~%s ms batches per op; ns = median over "
                 "processes of each process's median; ratio = median over processes of each process's ratio "
                 "[min-max]" % (len(runs), meta["rounds"], meta["batch_ms"]))
    else:
        L.append("- method: no timings (--callgrind-only): instruction counts only")
    if cg_meta:
        L.append("- instructions: callgrind, %d and %d iterations per op, difference / %d, less the empty loop "
                 "(%.1f instr/iteration); threaded ops not counted"
                 % (cg_meta["iters"], 2 * cg_meta["iters"], cg_meta["iters"], cg_meta["empty_loop_instr"]))
    else:
        L.append("- instructions: not counted (no callgrind run: valgrind missing or --no-callgrind)")
    L.append("- DPDK: %s" % meta["dpdk"])
    L.append("- jemalloc/mimalloc: %s" % meta["malloc_peers"])
    L.append("")
    L.append("ratio is pktmem ns / peer ns (below 1 pktmem is faster), except where the goal reads `>=`: there "
             "it is peer ns / pktmem ns, i.e. pktmem's throughput over the peer's. ns are per operation: per "
             "object for bursts, per buffer for the ring rows, per op of both threads for 2-thread scaling. "
             "\"met?\" judges the median time ratio; \"met on instr?\" judges the callgrind instruction "
             "ratio against the same goal (a proxy that machine noise does not move; not a time).")
    L.append("")
    L.append("| vs | workload | pktmem ns | peer ns | ratio | ratio range | pktmem instr | peer instr | instr ratio "
             "| goal | met? | met on instr? |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
    for r in out_rows:
        rng = "-" if r["ratio"] is None else "%.2f-%.2f" % (r["ratio_min"], r["ratio_max"])
        imet = met(r["kind"], r["goal"] or 0, r["instr_ratio"]) if r["instr_ratio"] is not None else "-"
        L.append("| %s | %s (`%s` / `%s`) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["section"], r["name"], r["pk"], r["peer"], fmt(r["pktmem_ns"]), fmt(r["peer_ns"]),
            fmt(r["ratio"], 3), rng, fmt(r["pktmem_instr"], 1), fmt(r["peer_instr"], 1),
            fmt(r["instr_ratio"], 3), goal_text(r["kind"], r["goal"] or 0), met(r["kind"], r["goal"] or 0,
                                                                             r["ratio"]), imet))
    L.append("")
    goals = [r for r in out_rows if r["kind"] in ("LE", "GE")]
    n_met = sum(1 for r in goals if r["met"] == "met")
    n_nm = sum(1 for r in goals if r["met"] == "not measured")
    L.append("Goals met: %d of %d (%d not measured)." % (n_met, len(goals), n_nm))
    L.append("")

    mem = first.get("memory", [])
    if mem:
        L.append("### Memory per packet held")
        L.append("")
        L.append("held = bytes the allocator reserved per packet, with the number of packets in `how` held at once (pktmem: the "
                 "caches' bytes_mapped before and after, in a fresh process; DPDK: the pool's memory chunks / "
                 "its objects); objects = the bytes of the objects handed out per packet (object sizes; DPDK: object "
                 "header + element + trailer); descriptor = objects less the area packet data goes in "
                 "(cluster, MHLEN, skb head less shared info, DPDK data room less headroom); "
                 "overhead = held - payload.")
        L.append("")
        L.append("| packet | side | payload B | held B/pkt | objects B/pkt | descriptor B | overhead B | held vs DPDK "
                 "| how |")
        L.append("|---|---|--:|--:|--:|--:|--:|--:|---|")
        dp = {m["payload"]: m for m in mem if m["side"] == "dpdk"}
        for m in mem:
            ref = dp.get(m["payload"])
            rel = "%.2f" % (m["held"] / ref["held"]) if ref and m["side"] != "dpdk" and ref["held"] else "-"
            L.append("| %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %s | %s |" % (
                m["what"], m["side"], m["payload"], m["held"], m.get("objects", 0), m["descriptor"],
                m["held"] - m["payload"], rel, m["how"]))
        L.append("")

    L.append("### Every op")
    L.append("")
    L.append("| op | what | ns/op (median) | per-process range | instr/op |")
    L.append("|---|---|--:|--:|--:|")
    for o in ops_out:
        rng = "-" if o["ns"] is None else "%.2f-%.2f" % (o["ns_min"], o["ns_max"])
        L.append("| `%s` | %s | %s | %s | %s |" % (o["id"], o["what"], fmt(o["ns"]), rng, fmt(o["instr"], 1)))
    L.append("")
    L.append("Not measured here: DPDK rows when libdpdk is absent; jemalloc/mimalloc when their library cannot be "
             "dlopen()ed; instructions of the two-thread ops (callgrind serialises threads).")
    md = "\n".join(L) + "\n"

    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": out_rows, "memory": mem, "ops": ops_out}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
