#!/usr/bin/env python3
"""Summarise the BENCH-* lines of scripts/bench-boot.d/job.sh.

Usage: report.py --raw LOG --csv FILE --png FILE --label TEXT [--emulated]
       report.py --self-test

Prints the tables on stdout, writes one CSV row per boot and a PNG chart
(gnuplot). With --emulated, times appear only as ratios against base.
"""
import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

POLICIES = ["base", "thp", "huge", "huge1g"]
COMPARE = "compare"
EMULATED = "emulated (nested L1 under QEMU TCG)"

# Per-boot figures taken from the --stats-json object.
FIELDS = [
    ("boot_ms", lambda j: _div(j.get("boot_wall_us"), 1000)),
    ("boot_cpu_ms", lambda j: _div(j.get("boot_cpu_us"), 1000)),
    ("setup_ms", lambda j: _div(j.get("setup_wall_us"), 1000)),
    ("setup_cpu_ms", lambda j: _div(j.get("setup_cpu_us"), 1000)),
    ("minflt", lambda j: j.get("minflt")),
    ("majflt", lambda j: j.get("majflt")),
    ("vmm_rss_mib", lambda j: _div(j.get("vmm_rss_kib"), 1024)),
    ("vmm_peak_mib", lambda j: _div(j.get("vmm_peak_kib"), 1024)),
    ("guest_rss_mib", lambda j: _div(j.get("guest_rss_kib"), 1024)),
    ("guest_hugetlb_mib", lambda j: _div(j.get("guest_hugetlb_kib"), 1024)),
    ("pages_4k", lambda j: (j.get("kvm_vm") or {}).get("pages_4k")),
    ("pages_2m", lambda j: (j.get("kvm_vm") or {}).get("pages_2m")),
    ("pages_1g", lambda j: (j.get("kvm_vm") or {}).get("pages_1g")),
    ("pf_taken", lambda j: (j.get("kvm_vcpu") or {}).get("pf_taken")),
    ("pf_fixed", lambda j: (j.get("kvm_vcpu") or {}).get("pf_fixed")),
    ("exits", lambda j: (j.get("kvm_vcpu") or {}).get("exits")),
]


def _div(v, d):
    return None if v is None else v / d


# --- The other VMM's boot-time line.

_FC = re.compile(
    r"Guest-boot-time\s*=\s*([0-9]+)\s*us(?:[^,]*,\s*([0-9]+)\s*CPU us)?",
    re.I)
_OURS = re.compile(
    r"guest boot time:\s*([0-9.]+)\s*ms wall(?:,\s*([0-9.]+)\s*ms CPU)?",
    re.I)
_GENERIC = re.compile(
    r"boot[ _-]?time(?:[ _-]?(us|ms|s))?\b\D*?([0-9]+(?:\.[0-9]+)?)\s*"
    r"(us|µs|ms|s)?\b", re.I)
_SCALE = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}


def parse_boot_line(line):
    """(wall_ms, cpu_ms or None) from one boot-time line, or None.

    Understands Firecracker's "Guest-boot-time = N us M ms, C CPU us ...",
    microvm's "guest boot time: N ms wall, C ms CPU", and a generic
    "boot time[: =] N us|ms|s" (also boot_time_us=N); no unit means ms.
    """
    m = _FC.search(line)
    if m:
        cpu = m.group(2)
        return int(m.group(1)) / 1000, (int(cpu) / 1000 if cpu else None)
    m = _OURS.search(line)
    if m:
        return float(m.group(1)), (float(m.group(2)) if m.group(2) else None)
    m = _GENERIC.search(line)
    if m:
        unit = (m.group(1) or m.group(3) or "ms").lower()
        return float(m.group(2)) * _SCALE[unit], None
    return None


# --- Reading the log.

_TAG = re.compile(r"(\w+)=(\S*)")


def parse_log(path):
    runs, fails, skips, env, cmp_runs = [], [], [], {}, {}
    done = False
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n").replace("\r", "")
            if not line.startswith("BENCH-"):
                continue
            kind, _, rest = line.partition(" ")
            if kind == "BENCH-ENV":
                env = dict(_TAG.findall(rest))
            elif kind == "BENCH-DONE":
                done = True
            elif kind == "BENCH-RUN":
                head, brace, tail = rest.partition("{")
                tags = dict(_TAG.findall(head))
                try:
                    j = json.loads(brace + tail)
                except ValueError:
                    fails.append((tags, "unparsable stats JSON"))
                    continue
                rec = {k: tags.get(k) for k in
                       ("pages", "mode", "mem", "cpus", "run")}
                for name, get in FIELDS:
                    rec[name] = get(j)
                runs.append(rec)
            elif kind == "BENCH-FAIL":
                tags = dict(_TAG.findall(rest))
                why = re.sub(r"^.*?rc=\S+\s*", "", rest)
                fails.append((tags, why))
            elif kind == "BENCH-SKIP":
                tags = dict(_TAG.findall(" ".join(rest.split()[:4])))
                why = re.sub(r"^(\S+=\S+\s+){4}", "", rest)
                if (tags, why) not in skips:
                    skips.append((tags, why))
            elif kind == "BENCH-CMP":
                head, _, text = rest.partition(" line=")
                tags = dict(_TAG.findall(head))
                key = (tags["mem"], tags["cpus"], tags["run"])
                got = parse_boot_line(text) if text else None
                if got and key not in cmp_runs:
                    cmp_runs[key] = got
                elif key not in cmp_runs:
                    cmp_runs.setdefault(key, None)
    for (mem, cpus, run), got in sorted(cmp_runs.items()):
        if got is None:
            fails.append(({"pages": COMPARE, "mode": "-", "mem": mem,
                           "cpus": cpus, "run": run},
                          "no boot-time line in the compare command's output"))
            continue
        rec = {"pages": COMPARE, "mode": "-", "mem": mem, "cpus": cpus,
               "run": run}
        for name, _ in FIELDS:
            rec[name] = None
        rec["boot_ms"], rec["boot_cpu_ms"] = got
        runs.append(rec)
    return runs, fails, skips, env, done


# --- Summaries.

def config_order(key):
    mem, cpus, mode, pages = key
    order = POLICIES + [COMPARE]
    return (int(mem), int(cpus), 0 if mode == "lazy" else 1 if
            mode == "prefault" else 2,
            order.index(pages) if pages in order else 99)


def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def summarise(runs):
    groups = {}
    for r in runs:
        key = (r["mem"], r["cpus"], r["mode"], r["pages"])
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {"n": len(rs)}
        for name, _ in FIELDS:
            out[key][name] = stats([r[name] for r in rs])
    return out


def base_key(key):
    mem, cpus, mode, _ = key
    # The other VMM is compared with microvm's default: base, lazy.
    return (mem, cpus, "lazy" if mode == "-" else mode, "base")


def fmt_num(v, nd=1):
    if v is None:
        return "-"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def fmt_ratio(s, b):
    """median/base median [min/base..max/base]."""
    if s is None or b is None or not b[0]:
        return "-"
    return f"{s[0] / b[0]:.2f} [{s[1] / b[0]:.2f}-{s[2] / b[0]:.2f}]"


def fmt_range(s, nd=1):
    if s is None:
        return "-"
    return f"{fmt_num(s[0], nd)} [{fmt_num(s[1], nd)}-{fmt_num(s[2], nd)}]"


def config_name(key):
    mem, cpus, mode, pages = key
    m = int(mem)
    size = f"{m // 1024}G" if m % 1024 == 0 else f"{m}M"
    return f"{size} {cpus}cpu {mode:8s} {pages}"


def table(summary, planned, emulated):
    keys = sorted(summary, key=config_order)
    lines = []
    if emulated:
        head1 = ["config", "ok", "boot x base (med [min-max])",
                 "boot CPU x base", "setup x base",
                 "host faults (med [min-max])", "x base", "majflt"]
    else:
        head1 = ["config", "ok", "boot ms (med [min-max])", "x base",
                 "boot CPU ms", "setup ms", "host faults (med [min-max])",
                 "x base", "majflt"]
    rows1 = []
    for k in keys:
        s = summary[k]
        b = summary.get(base_key(k), {})
        ok = f"{s['n']}/{planned.get(k, s['n'])}"
        faults = fmt_range(s["minflt"], 0)
        fratio = (f"{s['minflt'][0] / b['minflt'][0]:.2f}"
                  if s["minflt"] and b.get("minflt") and b["minflt"][0]
                  else "-")
        maj = fmt_num(s["majflt"][0]) if s["majflt"] else "-"
        if emulated:
            rows1.append([config_name(k), ok,
                          fmt_ratio(s["boot_ms"], b.get("boot_ms")),
                          fmt_ratio(s["boot_cpu_ms"], b.get("boot_cpu_ms")),
                          fmt_ratio(s["setup_ms"], b.get("setup_ms")),
                          faults, fratio, maj])
        else:
            bt = (f"{s['boot_ms'][0] / b['boot_ms'][0]:.2f}"
                  if s["boot_ms"] and b.get("boot_ms") else "-")
            rows1.append([config_name(k), ok, fmt_range(s["boot_ms"]), bt,
                          fmt_num(s["boot_cpu_ms"][0])
                          if s["boot_cpu_ms"] else "-",
                          fmt_num(s["setup_ms"][0])
                          if s["setup_ms"] else "-",
                          faults, fratio, maj])
    lines += render(head1, rows1)
    lines.append("")
    head2 = ["config", "KVM pages_4k", "pages_2m", "pages_1g",
             "vCPU pf_fixed", "guest RSS MiB", "guest hugetlb MiB",
             "VMM RSS MiB", "VMM peak MiB"]
    rows2 = []
    for k in keys:
        if k[3] == COMPARE:
            continue
        s = summary[k]

        def med(name, nd=0):
            return fmt_num(s[name][0], nd) if s[name] else "-"
        rows2.append([config_name(k), med("pages_4k"), med("pages_2m"),
                      med("pages_1g"), med("pf_fixed"),
                      med("guest_rss_mib"), med("guest_hugetlb_mib"),
                      med("vmm_rss_mib", 1), med("vmm_peak_mib", 1)])
    lines += render(head2, rows2)
    return lines


def render(head, rows):
    widths = [max(len(str(r[i])) for r in [head] + rows)
              for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join(str(c).ljust(w)
                             for c, w in zip(r, widths)).rstrip())
    return out


# --- Outputs.

def _csv_cell(v):
    if v is None:
        return ""
    return f"{v:.3f}" if isinstance(v, float) else v


def write_csv(path, runs, env_label, emulated):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["environment", "pages", "mode", "mem_mib", "cpus",
                    "run"] + [n for n, _ in FIELDS])
        for r in sorted(runs, key=lambda r: config_order(
                (r["mem"], r["cpus"], r["mode"], r["pages"])) +
                (int(r["run"]),)):
            w.writerow([env_label, r["pages"], r["mode"], r["mem"], r["cpus"],
                        r["run"]] + [_csv_cell(r[n]) for n, _ in FIELDS])
    os.replace(tmp, path)


def gnuplot_terminal():
    """pngcairo if this gnuplot has it, else the libgd png terminal."""
    try:
        out = subprocess.run(["gnuplot", "-e", "set terminal"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout + out.stderr
    if re.search(r"^\s*pngcairo\s", text, re.M):
        return "pngcairo"
    if re.search(r"^\s*png\s", text, re.M):
        return "png"
    return None


def chart(path, summary, label, emulated, runs):
    """Two clustered bar panels: boot time and host page faults, one bar
    per page policy within each memory/vCPU/mode group."""
    term = gnuplot_terminal()
    if not shutil.which("gnuplot") or term is None:
        return "gnuplot with a png or pngcairo terminal not found: " \
               "install gnuplot-nox"
    groups = sorted({(k[0], k[1], k[2]) for k in summary
                     if k[3] != COMPARE},
                    key=lambda g: config_order(g + ("base",)))
    pols = [p for p in POLICIES + [COMPARE]
            if any(k[3] == p for k in summary)]
    tmpd = tempfile.mkdtemp(prefix="bench-boot-plot.")
    try:
        for metric, fname in (("boot_ms", "boot.dat"),
                              ("minflt", "faults.dat")):
            with open(os.path.join(tmpd, fname), "w") as f:
                for g in groups:
                    # No spaces: the first column is one word.
                    name = "\\n".join(config_name(g + ("",)).split())
                    cells = [f'"{name}"']
                    for p in pols:
                        k = g + (p,)
                        if p == COMPARE:
                            k = (g[0], g[1], "-", COMPARE) \
                                if g[2] == "lazy" else None
                        s = summary.get(k) if k else None
                        s = s.get(metric) if s else None
                        b = summary.get(base_key(g + ("base",)), {})
                        b = b.get(metric)
                        if s is None:
                            cells += ["NaN"] * 3
                        elif metric == "boot_ms" and emulated:
                            if not b or not b[0]:
                                cells += ["NaN"] * 3
                            else:
                                cells += [f"{v / b[0]:.4f}" for v in s]
                        else:
                            cells += [f"{v:.4f}" for v in s]
                    f.write(" ".join(cells) + "\n")
        size = max(900, 170 * len(groups) + 200)
        font = "Sans,10" if term == "pngcairo" else "Sans 9"
        plots = []
        for fname in ("boot.dat", "faults.dat"):
            parts = []
            for i, p in enumerate(pols):
                c = 2 + 3 * i
                using = f"{c}:{c + 1}:{c + 2}" + (":xtic(1)" if i == 0
                                                   else "")
                parts.append(f"'{tmpd}/{fname}' using {using} title '{p}'")
            plots.append(", ".join(parts))
        tops = {}
        for fname in ("boot.dat", "faults.dat"):
            vals = []
            with open(os.path.join(tmpd, fname)) as f:
                for row in f:
                    vals += [float(v) for v in row.split()[1:]
                             if v != "NaN"]
            tops[fname] = max(vals) if vals else 1
        boot_label = ("boot time, x base (median; bars: min-max)"
                      if emulated else
                      "guest boot time, ms (median; bars: min-max)")
        where = EMULATED if emulated else label
        script = f"""
set terminal {term} size {size},950 font "{font}"
set output '{path}'
set datafile missing 'NaN'
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set key top right horizontal
set grid ytics
set bmargin 4
set multiplot layout 2,1 title "microvm boot by page policy: {where}\\ngroups: guest memory, vCPUs, lazy or --prefault; medians of {runs} runs"
set title "guest boot time{' relative to base (same group)' if emulated else ''}"
set ylabel "{boot_label}"
set yrange [0:{tops['boot.dat'] * 1.3:.4f}]
plot {plots[0]}
set title "host page faults taken by the VMM process (getrusage minflt)"
set ylabel "minor faults (median; bars: min-max; log)"
set logscale y
set yrange [1:{tops['faults.dat'] * 8:.0f}]
plot {plots[1]}
unset multiplot
"""
        with open(os.path.join(tmpd, "plot.gp"), "w") as f:
            f.write(script)
        out = subprocess.run(["gnuplot", os.path.join(tmpd, "plot.gp")],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or not os.path.exists(path):
            return "gnuplot failed: " + out.stderr.strip().splitlines()[-1] \
                if out.stderr.strip() else "gnuplot failed"
        return None
    finally:
        shutil.rmtree(tmpd, ignore_errors=True)


def self_test():
    cases = [
        ("2024-01-01T00:00:00 [anonymous-instance:main] Guest-boot-time = "
         "  123456 us 123 ms,   7890 CPU us 7 CPU ms", (123.456, 7.89)),
        ("microvm: guest boot time: 250 ms wall, 30 ms CPU (VMM setup 5 ms)",
         (250.0, 30.0)),
        ("boot time: 1.5 s", (1500.0, None)),
        ("boot_time_us=4200", (4.2, None)),
        ("Boot-Time = 97 ms", (97.0, None)),
        ("no timing here", None),
    ]
    bad = 0
    for line, want in cases:
        got = parse_boot_line(line)
        if got is not None:
            got = (round(got[0], 3), None if got[1] is None
                   else round(got[1], 3))
        if got != want:
            print(f"FAIL parse_boot_line({line!r}) = {got}, want {want}")
            bad += 1
    # A log as job.sh writes it: a boot, a compare run with a Firecracker
    # line, one whose output had no boot-time line, a skip.
    log = "\r\n".join([
        "BENCH-ENV kernel=x nproc=2",
        'BENCH-RUN pages=base mode=lazy mem=512 cpus=1 run=1 rc=0 '
        '{"boot_wall_us":2000000.000,"boot_cpu_us":null,"minflt":12000,'
        '"kvm_vm":{"pages_4k":6000}}',
        "BENCH-CMP mem=512 cpus=1 run=1 rc=0 line=[fake:main] "
        "Guest-boot-time = 105120 us 105 ms, 4321 CPU us 4 CPU ms",
        "BENCH-CMP mem=512 cpus=1 run=2 rc=1 line=",
        "BENCH-SKIP pages=huge1g mode=lazy mem=512 cpus=1 512 MiB is not a "
        "multiple of the 1024 MiB page",
        "BENCH-DONE", ""])
    with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
        f.write(log)
        f.flush()
        runs, fails, skips, env, done = parse_log(f.name)
    checks = [
        ("done", done),
        ("env", env.get("nproc") == "2"),
        ("two runs", len(runs) == 2),
        ("base boot", any(r["pages"] == "base" and r["boot_ms"] == 2000.0
                          and r["minflt"] == 12000 and r["pages_4k"] == 6000
                          and r["boot_cpu_ms"] is None for r in runs)),
        ("compare boot", any(r["pages"] == COMPARE and r["run"] == "1" and
                             abs(r["boot_ms"] - 105.12) < 1e-9 and
                             abs(r["boot_cpu_ms"] - 4.321) < 1e-9
                             for r in runs)),
        ("compare without a line fails",
         any(t.get("pages") == COMPARE and t.get("run") == "2"
             for t, _ in fails)),
        ("skip", skips and skips[0][0]["pages"] == "huge1g" and
         skips[0][1].startswith("512 MiB")),
    ]
    for name, ok in checks:
        if not ok:
            print(f"FAIL parse_log: {name}")
            bad += 1
    cases += checks
    print(f"report.py self-test: {len(cases) - bad} passed, {bad} failed, 0 skipped")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw")
    ap.add_argument("--csv")
    ap.add_argument("--png")
    ap.add_argument("--label", default="")
    ap.add_argument("--emulated", action="store_true")
    ap.add_argument("--planned", default="",
                    help="space-separated mem:cpus:mode:pages:runs entries")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.raw:
        ap.error("--raw LOG is required")
    runs, fails, skips, env, done = parse_log(a.raw)
    planned = {}
    for item in a.planned.split():
        mem, cpus, mode, pages, n = item.split(":")
        planned[(mem, cpus, mode, pages)] = int(n)
    label = EMULATED if a.emulated else (a.label or "direct on hardware KVM")
    print(f"== bench-boot: {label}")
    if env:
        print("== host of the boots: " +
              " ".join(f"{k}={v}" for k, v in env.items()))
    if a.emulated:
        print(f"== every figure is {EMULATED}: times are shown only as "
              "ratios against base (same memory, vCPUs and mode, same run)")
    if env.get("thp") == "always":
        print("== warning: THP is \"always\" where the boots ran, so base "
              "got transparent hugepages too (run as root: the loop then "
              "switches THP to madvise)")
    summary = summarise(runs)
    for line in table(summary, planned, a.emulated):
        print(line)
    for tags, why in skips:
        print(f"SKIP {config_name((tags['mem'], tags['cpus'], tags['mode'], tags['pages']))}: {why}")
    for tags, why in fails:
        print(f"FAIL {config_name((tags.get('mem', '0'), tags.get('cpus', '?'), tags.get('mode', '?'), tags.get('pages', '?')))} run {tags.get('run', '?')}: {why}")
    rc = 0
    if not done:
        print("bench-boot: error: the boot loop did not finish (no "
              "BENCH-DONE): see the raw log " + a.raw)
        rc = 1
    if not runs:
        print("bench-boot: error: no boot produced figures: see the raw "
              "log " + a.raw)
        return 1
    if a.csv:
        write_csv(a.csv, runs, label, a.emulated)
        print(f"csv: {a.csv}")
    if a.png:
        err = chart(a.png, summary, label, a.emulated,
                    max((s["n"] for s in summary.values()), default=0))
        if err:
            print(f"bench-boot: warning: no chart: {err}")
        else:
            print(f"chart: {a.png}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
