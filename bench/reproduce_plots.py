#!/usr/bin/env python3
"""The figures and tables of bench/reproduce_lira.sh from its lira score JSON reports.

  reproduce_plots.py DIR R1 R2 ...   (the reference counts scored, in order)

Writes DIR/references.svg, DIR/queries.svg and DIR/summary.md. Standard library only: the
plots are plain SVG, in the style of lira's own (attack/plots.cpp)."""
import json
import math
import sys

COLORS = {"lira-online": "#1f77b4", "lira-online-fixed-variance": "#2ca02c", "lira-offline": "#d62728",
          "lira-offline-fixed-variance": "#ff7f0e", "loss": "#7f7f7f", "global-threshold": "#9467bd"}
DASHED = {"lira-online-fixed-variance", "lira-offline-fixed-variance"}


def load(path):
    with open(path) as f:
        return json.load(f)


def metric(report, attack, key):
    """AUC, or the pooled TPR at FPR key; None when skipped or not estimable."""
    a = next((a for a in report["attacks"] if a["name"] == attack), None)
    if a is None:
        return None
    p = a["pooled"]
    if key == "auc":
        return p["auc"]
    t = next(t for t in p["tpr_at_fpr"] if abs(t["fpr"] - key) < 1e-12)
    return t["tpr"]


def scored_share(report, attack):
    a = next((a for a in report["attacks"] if a["name"] == attack), None)
    if a is None:
        return None
    p = a["pooled"]
    scored = p["members"] + p["nonmembers"]
    return scored / (scored + a["undefined_scores"])


def fmt(v, pct=False):
    if v is None:
        return "n/a"
    if not pct:
        return f"{v:.3f}"
    return f"{100 * v:.2f}%" if v == 0 or v >= 1e-4 else f"{100 * v:.4f}%"


def nice(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v (an axis' top)."""
    p = 10 ** math.floor(math.log10(v))
    return next(m * p for m in (1, 2, 5, 10) if m * p >= v)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def line_panel(o, x0, y0, w, h, xs, series, ylabel, ymax):
    """series: {attack: [y or None per x]}; x on a log2 axis."""
    lx = [math.log2(x) for x in xs]
    lo, hi = min(lx), max(lx)
    sx = lambda v: x0 + (math.log2(v) - lo) / max(hi - lo, 1e-9) * w
    sy = lambda v: y0 + h - v / ymax * h
    o.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="black"/>')
    for i in range(6):
        v = ymax * i / 5
        o.append(f'<line x1="{x0}" y1="{sy(v):.1f}" x2="{x0 + w}" y2="{sy(v):.1f}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{x0 - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    for x in xs:
        o.append(f'<text x="{sx(x):.1f}" y="{y0 + h + 16}" text-anchor="middle">{x}</text>')
    o.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 36}" text-anchor="middle">reference models (log scale)</text>')
    o.append(f'<text transform="translate({x0 - 48},{y0 + h / 2}) rotate(-90)" text-anchor="middle">{esc(ylabel)}</text>')
    for name, ys in series.items():
        pts = [(sx(x), sy(y)) for x, y in zip(xs, ys) if y is not None]
        if not pts:
            continue
        dash = ' stroke-dasharray="6,4"' if name in DASHED else ""
        o.append(f'<polyline fill="none" stroke="{COLORS[name]}" stroke-width="2"{dash} points="' +
                 " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            o.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[name]}"/>')


def svg(width, height, body, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n<text x="{width / 2}" y="20" text-anchor="middle" '
            f'font-size="14">{esc(title)}</text>\n' + "\n".join(body) + "\n</svg>\n")


def legend(o, x, y, names):
    for i, name in enumerate(names):
        dash = ' stroke-dasharray="6,4"' if name in DASHED else ""
        o.append(f'<line x1="{x}" y1="{y + 18 * i}" x2="{x + 30}" y2="{y + 18 * i}" stroke="{COLORS[name]}" '
                 f'stroke-width="2"{dash}/>')
        o.append(f'<text x="{x + 38}" y="{y + 18 * i + 4}">{esc(name)}</text>')


def main():
    out, refs = sys.argv[1], [int(r) for r in sys.argv[2:]]
    lira_attacks = ["lira-online", "lira-online-fixed-variance", "lira-offline", "lira-offline-fixed-variance"]
    reports = {r: load(f"{out}/references-{r}.json") for r in refs}
    md = []

    # 1. Reference models.
    body = []
    tpr = {a: [metric(reports[r], a, 1e-3) for r in refs] for a in lira_attacks}
    auc = {a: [metric(reports[r], a, "auc") for r in refs] for a in lira_attacks}
    ymax = nice(max([v for ys in tpr.values() for v in ys if v is not None] + [0.01]) * 1.05)
    line_panel(body, 80, 40, 420, 300, refs, tpr, "TPR at 0.1% FPR", ymax)
    line_panel(body, 600, 40, 420, 300, refs, auc, "AUC", 1.0)
    legend(body, 90, 410, lira_attacks)
    first = reports[refs[0]]
    title = (f"LiRA against the number of reference models ({len(first['targets'])} targets pooled, "
             f"{first['models']} models)")
    open(f"{out}/references.svg", "w").write(svg(1060, 490, body, title))
    md.append("### Reference models\n")
    md.append("TPR at 0.1% FPR / AUC, pooled over the targets; the share of (target, candidate) pairs the attack "
              "could score (too few IN or OUT references for a candidate leave it unscored) in brackets.\n")
    md.append("| references | " + " | ".join(lira_attacks) + " |")
    md.append("|---" * (len(lira_attacks) + 1) + "|")
    for i, r in enumerate(refs):
        cells = []
        for a in lira_attacks:
            share = scored_share(reports[r], a)
            if share is None:
                cells.append("skipped")
            else:
                cells.append(f"{fmt(tpr[a][i], True)} / {fmt(auc[a][i])}" +
                             ("" if share == 1 else f" ({100 * share:.1f}%)"))
        md.append(f"| {r} | " + " | ".join(cells) + " |")

    # 2. Queries.
    q = {n: load(f"{out}/queries-{n}.json") for n in ("1", "2", "all")}
    count = {n: len(q[n]["queries"]) for n in q}
    body = []
    groups = [("TPR at 0.1% FPR", 1e-3), ("TPR at 0.001% FPR", 1e-5), ("AUC", "auc")]
    bar_w, x = 26, 80
    ymaxes = {}
    for gi, (label, key) in enumerate(groups):
        vals = [metric(q[n], a, key) for n in q for a in ("lira-online", "lira-offline")]
        ymax = 1.0 if key == "auc" else nice(max([v for v in vals if v is not None] + [1e-4]) * 1.05)
        ymaxes[label] = ymax
        px, py, ph = 80 + gi * 330, 50, 260
        body.append(f'<rect x="{px}" y="{py}" width="270" height="{ph}" fill="none" stroke="black"/>')
        for i in range(6):
            v = ymax * i / 5
            yy = py + ph - v / ymax * ph
            body.append(f'<line x1="{px}" y1="{yy:.1f}" x2="{px + 270}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
            body.append(f'<text x="{px - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        body.append(f'<text x="{px + 135}" y="{py - 8}" text-anchor="middle">{esc(label)}</text>')
        for ni, n in enumerate(q):
            gx = px + 20 + ni * 85
            body.append(f'<text x="{gx + bar_w}" y="{py + ph + 16}" text-anchor="middle">{count[n]} '
                        f'quer{"y" if count[n] == 1 else "ies"}</text>')
            for ai, a in enumerate(("lira-online", "lira-offline")):
                v = metric(q[n], a, key)
                if v is None:
                    body.append(f'<text x="{gx + ai * bar_w + bar_w / 2}" y="{py + ph - 4}" text-anchor="middle" '
                                f'font-size="9">n/a</text>')
                    continue
                hh = v / ymax * ph
                body.append(f'<rect x="{gx + ai * bar_w}" y="{py + ph - hh:.1f}" width="{bar_w - 2}" height="{hh:.1f}" '
                            f'fill="{COLORS[a]}"/>')
    legend(body, 90, 350, ["lira-online", "lira-offline"])
    open(f"{out}/queries.svg", "w").write(svg(1060, 400, body, f"Queries per candidate ({len(q['all']['targets'])} "
                                                               "leave-one-out targets pooled)"))
    md.append("\n### Queries\n")
    md.append("| queries | online TPR@0.1% | online TPR@0.001% | online AUC | offline TPR@0.1% | offline TPR@0.001% | offline AUC |")
    md.append("|---|---|---|---|---|---|---|")
    for n in q:
        row = [str(count[n])]
        for a in ("lira-online", "lira-offline"):
            row += [fmt(metric(q[n], a, 1e-3), True), fmt(metric(q[n], a, 1e-5), True), fmt(metric(q[n], a, "auc"))]
        md.append("| " + " | ".join(row) + " |")

    # 3. ROC against the baselines.
    roc = load(f"{out}/roc.json")
    md.append("\n### Against the baselines (roc.svg)\n")
    md.append("| attack | AUC | TPR@0.1%FPR | TPR@0.001%FPR |")
    md.append("|---|---|---|---|")
    for a in roc["attacks"]:
        md.append(f"| {a['name']} | {fmt(metric(roc, a['name'], 'auc'))} | {fmt(metric(roc, a['name'], 1e-3), True)} | "
                  f"{fmt(metric(roc, a['name'], 1e-5), True)} |")
    md.append(f"\nModels: {roc['models_done']} of {roc['models']}; mean train accuracy {roc['mean_train_accuracy']:.4f}, "
              f"mean test accuracy {roc['mean_test_accuracy']:.4f}; {roc['candidates'] - roc['population']} candidates "
              f"scored per target ({roc['population']} population left out).")
    open(f"{out}/summary.md", "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
