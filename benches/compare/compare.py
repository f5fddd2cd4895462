#!/usr/bin/env python3
"""Turns the comparison's raw results (one JSON line per run, from run.sh) into a markdown
table of medians per case and server, with ratios to the best peer and to the raw TCP ceiling.

    compare.py results/raw.jsonl --meta results/meta.txt --out results/RESULTS.md

Prints one `summary:` line per case: fullduplex beside the best peer and the ceiling.
Standard library only.
"""

import argparse
import json
import statistics
import sys
from collections import OrderedDict

CEILING = "raw-tcp"
OURS = "fullduplex"
# fullduplex's tokio adapter: ours too, so never the best peer; its own summary line ranks it
# against the async crates it stands in for.
ADAPTER = "fullduplex-tokio"
ADAPTER_RIVALS = ("tokio-tungstenite", "fastwebsockets")
# fullduplex too, never the best peer: another build of it (BASELINE, a change measured before
# and after in the same run) and its io_uring runtime.
OWN = (OURS, ADAPTER, "fullduplex-base", "fullduplex-io-uring")

CASE_TITLES = OrderedDict(
    [
        ("echo-100x20", "Echo, 100 connections × 20 B"),
        ("echo-100x16", "Echo, 100 connections × 16 B"),
        ("echo-100x1k", "Echo, 100 connections × 1 KiB"),
        ("echo-100x16k", "Echo, 100 connections × 16 KiB"),
        ("echo-10x1k", "Echo, 10 connections × 1 KiB"),
        ("echo-10x16k", "Echo, 10 connections × 16 KiB"),
        ("echo-10x64k", "Echo, 10 connections × 64 KiB"),
        ("echo-100x64k", "Echo, 100 connections × 64 KiB"),
        ("echo-10x1m", "Echo, 10 connections × 1 MiB"),
        ("echo-100x1m", "Echo, 100 connections × 1 MiB"),
        ("echo-200x16k", "Echo, 200 connections × 16 KiB"),
        ("echo-500x16k", "Echo, 500 connections × 16 KiB"),
        ("echo-deflate-json", "Echo with permessage-deflate, 100 connections × ~512 B chat JSON"),
        ("bcast-1000x16", "Broadcast to 1 000 receivers × 16 B, 32 in flight"),
        ("bcast-1000x1k", "Broadcast to 1 000 receivers × 1 KiB, 32 in flight"),
        ("mem-idle", "Memory per idle connection (no deflate)"),
        ("mem-idle-deflate", "Memory per idle connection (deflate offered)"),
    ]
)


def dig(result, path):
    """The value at a dotted path of a result, or None."""
    value = result
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def kind_of(case):
    if case.startswith("bcast"):
        return "broadcast"
    if case.startswith("mem"):
        return "connect"
    return "echo"


# Per kind: (column title, result path, lower is better, digits).
METRICS = {
    "echo": [
        ("msgs/s", "msgs_per_sec", False, 0),
        ("server CPU µs/msg", "server_cpu_us_per_msg", True, 2),
        ("MB/s", "mb_per_sec", False, 1),
        ("p50 µs", "latency_us.p50", True, 1),
        ("p99 µs", "latency_us.p99", True, 1),
    ],
    "broadcast": [
        ("deliveries/s", "deliveries_per_sec", False, 0),
        ("server CPU µs/delivery", "server_cpu_us_per_delivery", True, 3),
        ("fan-out p50 µs", "fanout_latency_us.p50", True, 1),
        ("fan-out p99 µs", "fanout_latency_us.p99", True, 1),
    ],
    "connect": [
        ("bytes/conn (RSS)", "server_rss_bytes_per_conn", True, 0),
        ("bytes/conn (anonymous)", "server_anon_bytes_per_conn", True, 0),
        ("connects/s", "connects_per_sec", False, 0),
    ],
}

# Per kind: the metric that ranks servers (the first is the throughput, the ranking one is the
# server's cost: on two cores msgs/s saturates with the load generator, CPU per message doesn't).
RANKING = {"echo": 1, "broadcast": 1, "connect": 0}


def load(path):
    """{case: {peer: {"results": [...], "errors": [...]}}} in file order."""
    cases = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            slot = cases.setdefault(row["case"], OrderedDict()).setdefault(
                row["peer"], {"results": [], "errors": []}
            )
            if "error" in row["result"]:
                slot["errors"].append(row["result"]["error"])
            else:
                slot["results"].append(row["result"])
    return cases


def fmt(value, digits):
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def ratio(value, best):
    if value is None or not best:
        return "–"
    return f"{value / best:.2f}×"


def medians_of(peers, kind):
    out = OrderedDict()
    for peer, slot in peers.items():
        out[peer] = [median([dig(r, m[1]) for r in slot["results"]]) for m in METRICS[kind]]
    return out


def best_peer(meds, kind):
    """The best peer (not fullduplex, not its adapter, not the ceiling) on the ranking metric."""
    index = RANKING[kind]
    lower = METRICS[kind][index][2]
    candidates = [
        (v[index], p) for p, v in meds.items() if p not in OWN + (CEILING,) and v[index] is not None
    ]
    if not candidates:
        return None, None
    value, peer = (min if lower else max)(candidates)
    return peer, value


def table(case, peers):
    kind = kind_of(case)
    metrics = METRICS[kind]
    meds = medians_of(peers, kind)
    index = RANKING[kind]
    best, best_value = best_peer(meds, kind)
    ceiling = meds.get(CEILING, [None] * len(metrics))[index]
    rank_title = metrics[index][0]
    head = ["server"] + [m[0] for m in metrics]
    has_ceiling = ceiling is not None
    head += [f"{rank_title} ÷ best peer"] + ([f"{rank_title} ÷ raw TCP"] if has_ceiling else [])
    head += [f"{rank_title} min–max", "runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for peer, values in meds.items():
        slot = peers[peer]
        if not slot["results"]:
            why = slot["errors"][0] if slot["errors"] else "no result"
            cells = [peer] + ["–"] * (len(head) - 2) + [f"failed: {why}"]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        name = f"**{peer}**" if peer in OWN else peer
        cells = [name] + [fmt(v, m[3]) for v, m in zip(values, metrics)]
        cells.append(ratio(values[index], best_value))
        if has_ceiling:
            cells.append(ratio(values[index], ceiling))
        spread = [dig(r, metrics[index][1]) for r in slot["results"]]
        spread = [v for v in spread if v is not None]
        digits = metrics[index][3]
        cells.append(f"{fmt(min(spread), digits)}–{fmt(max(spread), digits)}" if spread else "–")
        runs = str(len(slot["results"]))
        if slot["errors"]:
            runs += f" ({len(slot['errors'])} failed)"
        cells.append(runs)
        lines.append("| " + " | ".join(cells) + " |")
    ours = meds.get(OURS, [None] * len(metrics))[index]
    summary = f"summary: {case}: {OURS} {fmt(ours, metrics[index][3])} {rank_title}"
    if best:
        summary += f"; best peer {best} {fmt(best_value, metrics[index][3])} ({ratio(ours, best_value)})"
    if ceiling:
        summary += f"; raw TCP {fmt(ceiling, metrics[index][3])} ({ratio(ours, ceiling)})"
    extra = [adapter_summary(case, meds, metrics[index], index), own_summary(case, meds, metrics, index)]
    extra += [throughput_summary(case, meds, metrics)]
    return lines, "\n".join([summary] + [line for line in extra if line])


def adapter_summary(case, meds, metric, index):
    """The adapter beside the async crates it stands in for, when it ran."""
    ours = meds.get(ADAPTER, [None])[index] if ADAPTER in meds else None
    if ours is None:
        return None
    line = f"summary: {case}: {ADAPTER} {fmt(ours, metric[3])} {metric[0]}"
    for rival in ADAPTER_RIVALS:
        if rival in meds and meds[rival][index] is not None:
            value = meds[rival][index]
            line += f"; {rival} {fmt(value, metric[3])} ({ratio(ours, value)})"
    return line


def own_summary(case, meds, metrics, index):
    """fullduplex's other builds and runtimes beside it (BASELINE, io_uring), when they ran."""
    ours = meds.get(OURS, [None] * len(metrics))[index]
    parts = []
    for other in ("fullduplex-base", "fullduplex-io-uring"):
        value = meds.get(other, [None] * len(metrics))[index]
        if value is not None:
            parts.append(f"{other} {fmt(value, metrics[index][3])} (fullduplex ÷ it: {ratio(ours, value)})")
    return f"summary: {case}: " + "; ".join(parts) if parts else None


def throughput_summary(case, meds, metrics):
    """For large echoes (64 KiB and up): fullduplex's MB/s against the raw TCP ceiling's."""
    column = next((i for i, m in enumerate(metrics) if m[1] == "mb_per_sec"), None)
    if column is None or not (case.endswith("m") or case.endswith("64k")):
        return None
    ours = meds.get(OURS, [None] * len(metrics))[column]
    ceiling = meds.get(CEILING, [None] * len(metrics))[column]
    if ours is None or not ceiling:
        return None
    return f"summary: {case}: throughput {OURS} {ours:.0f} MB/s, raw TCP {ceiling:.0f} MB/s ({ratio(ours, ceiling)})"


def read_meta(path):
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", help="raw.jsonl written by run.sh")
    parser.add_argument("--meta", help="meta.txt written by run.sh")
    parser.add_argument("--out", help="the markdown file to write (default: stdout)")
    args = parser.parse_args()
    cases = load(args.raw)
    meta = read_meta(args.meta)
    doc = ["# fullduplex side by side", ""]
    doc += [
        "Written by `benches/compare/run.sh` (see README.md beside it). Each server runs pinned",
        "to core 1 (`taskset -c 1`), the load generator (`fullduplex bench`) on core 0. Figures",
        "are medians over the runs; *server CPU* is the server process's utime + stime over the",
        "measured window (all threads) divided by the messages (echo) or deliveries (broadcast).",
        "Ratios divide by the best peer other than fullduplex (lowest CPU per message, lowest",
        "bytes per connection) and by the raw TCP echo ceiling (no WebSocket work): below 1.00×",
        "is better. Memory is the server's resident set growth ÷ idle connections (ranked), and",
        "its anonymous part (heap and stacks: `RssAnon`, without the program's code and files",
        "that the first connections map in once for all, and that a peer's JIT makes anonymous).",
        "The min–max",
        "column shows the spread of the ranking figure over the runs: on a loaded machine, read",
        "differences smaller than that spread as ties.",
        "",
        "## Machine and versions",
        "",
    ]
    doc += [f"- {line}" for line in meta]
    doc.append("")
    summaries = []
    order = [c for c in CASE_TITLES if c in cases] + [c for c in cases if c not in CASE_TITLES]
    for case in order:
        lines, summary = table(case, cases[case])
        doc += [f"## {CASE_TITLES.get(case, case)} (`{case}`)", ""] + lines + [""]
        summaries.append(summary)
    doc += ["## Summary", "", "```"] + summaries + ["```", ""]
    text = "\n".join(doc)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    for s in summaries:
        print(s)


if __name__ == "__main__":
    main()
