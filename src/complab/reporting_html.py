"""The report as a static site: `index.html` with one row per experiment (paper,
claim, verdict, the checks' numbers, seeds, tier, wall time, date), and a page per
experiment (claim, figure, the config of each tier, the checks with their numbers,
the stored rows). It needs no server and no network: styles are inline, figures are
files beside the pages. Every text that comes from a config, a row or a check is
escaped. `serve` shows it at http://127.0.0.1:PORT (loopback only).
"""

import csv
import html
import json
import time
from pathlib import Path

from complab import config as cfgs
from complab import experiments, reporting_bench
from complab.reporting import Section, open_store, sections, writable

MAX_ROWS = 200  # rows shown on a page; all of them are in the page's CSV

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: .3em .6em;
vertical-align: top; text-align: left; } th { background: #f3f3f3; } .holds { color: #07610b; font-weight: 600; }
.fails { color: #a40000; font-weight: 600; } .none { color: #777; } img { max-width: 100%; }
small, .measured { color: #444; font-size: .9em; } code { font-size: .92em; }
#experiments td:nth-child(5) { min-width: 22em; } #experiments td:nth-child(3) { min-width: 14em; }
"""


def e(value) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: list[str]) -> str:
    return "\n".join(["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      '<link rel="icon" href="data:,">',  # no request for /favicon.ico
                      f"<title>{e(title)}</title><style>{STYLE}</style></head><body>", *body, "</body></html>", ""])


def _verdict_cell(s: Section) -> str:
    css = "holds" if s.passed else ("none" if not s.ran and not s.error else "fails")
    return f'<td class="verdict {css}" data-experiment="{e(s.exp.id)}">{e(s.verdict)}</td>'


def write(experiment_ids: list[str] | None = None, results: str | Path | None = None,
          out: str | Path | None = None) -> Path:
    """Build the site into `out` (default `<results>/site`); returns the index's path."""
    store = open_store(results)
    out = Path(out) if out is not None else store.root / "site"
    try:
        ids = experiment_ids or experiments.ids()
        found = sections(store, ids, writable(out) / "figures")
        stored = sorted({r.experiment for r in store.runs()} - set(experiments.ids()))
        benches = reporting_bench.tables(store)
    finally:
        store.close()
    if benches:
        (out / "bench.html").write_text(_bench_page(benches))
    rows = []
    for s in found:
        numbers = "<br>".join(f"{'PASS' if c.passed else 'FAIL'} {e(c.name)}: <span class=measured>"
                              f"{e(c.measured)}</span>" for c in s.checks) or e(s.error or "")
        link = f'<a href="{e(s.exp.id)}.html">{e(s.exp.id)}</a>' if s.ran and not s.error else e(s.exp.id)
        rows.append(f'<tr data-id="{e(s.exp.id)}"><td>{link}</td><td>{e(s.exp.paper)}</td><td>{e(s.exp.claim)}</td>'
                    f"{_verdict_cell(s)}<td><small>{numbers}</small></td><td>{e(','.join(map(str, s.seeds)) or '-')}"
                    f"</td><td>{e(s.tier or '-')}</td><td>{s.wall_s:.0f} s</td><td>{e(s.ended)}</td></tr>")
        if s.ran and not s.error:
            (out / f"{s.exp.id}.html").write_text(_experiment_page(s, out))
    rows += [f'<tr data-id="{e(i)}"><td>{e(i)}</td><td colspan=8 class=none>stored, but not an experiment of this '
             "complab version</td></tr>" for i in stored]
    index = _page("complab report", [
        "<h1>complab report</h1>",
        f"<p><small>Generated {e(time.strftime('%Y-%m-%d %H:%M:%S'))} from <code>{e(store.root)}</code>.</small></p>",
        '<table id="experiments"><thead><tr><th>experiment</th><th>paper</th><th>claim</th><th>verdict</th>'
        "<th>checks, as measured</th><th>seeds</th><th>tier</th><th>wall time</th><th>date</th></tr></thead><tbody>",
        *rows, "</tbody></table>",
        '<p><a href="bench.html">Speed and memory figures</a> (<code>complab bench</code>)</p>' if benches else ""])
    path = out / "index.html"
    path.write_text(index)
    return path


def _experiment_page(s: Section, out: Path) -> str:
    exp, run = s.exp, s.runs[-1]
    checks = [f"<tr><td>{e(c.name)}</td><td class={'holds' if c.passed else 'fails'}>{'PASS' if c.passed else 'FAIL'}"
              f"</td><td class=measured>{e(c.measured)}</td></tr>" for c in s.checks]
    tiers = []
    for tier, cfg in exp.tiers.items():
        shown = s.config if tier == s.tier else cfg
        mark = " (reported" + (", with overrides" if s.overridden else "") + ")" if tier == s.tier else ""
        leaves = "".join(f"<tr><td><code>{e(k)}</code></td><td><code>{e(v)}</code></td></tr>"
                         for k, v in cfgs.leaves(shown).items())
        tiers.append(f"<h3>{e(tier)}{e(mark)} <small>config {e(cfgs.config_hash(shown, exclude=exp.grid))}</small>"
                     f"</h3><table class=config>{leaves}</table>")
    rows = s.results.rows
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / f"{exp.id}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, cols)
        writer.writeheader()
        writer.writerows({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()}
                         for r in rows)
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows[:MAX_ROWS])
    more = f"<p><small>{len(rows) - MAX_ROWS} more rows in the CSV.</small></p>" if len(rows) > MAX_ROWS else ""
    return _page(f"{exp.id} — complab", [
        '<p><a href="index.html">&larr; all experiments</a></p>',
        f"<h1>{e(exp.id)}</h1><p><strong>{e(exp.title)}</strong><br>{e(exp.paper)}</p>",
        f"<p>Claim: {e(exp.claim)}</p>",
        f'<p>Verdict: <span class="{"holds" if s.passed else "fails"}" id="verdict">{e(s.verdict)}</span> at the '
        f"{e(s.tier)} tier, config {e(s.config_hash)}, seeds {e(','.join(map(str, s.seeds)))}, {s.wall_s:.0f} s of "
        f"compute, code {e(run.code_version)}, device {e(run.device)}, finished {e(s.ended)}.</p>",
        "<h2>Checks</h2><table id=checks><tr><th>check</th><th>verdict</th><th>measured</th></tr>", *checks,
        "</table>", "<h2>Figure</h2>", f'<img src="figures/{e(exp.id)}.png" alt="{e(exp.id)}: the claim\'s figure">',
        "<h2>Configs</h2>", *tiers,
        f'<h2>Rows</h2><p><small>{len(rows)} rows; <a href="{e(exp.id)}.csv">all as CSV</a></small></p>',
        f"<table id=rows><tr>{head}</tr>{body}</table>{more}"])


def _bench_page(benches) -> str:
    body = ['<p><a href="index.html">&larr; all experiments</a></p>', "<h1>complab bench</h1>",
            "<p>The last figure of each kind on each device; every figure ever measured is in the database "
            "(<code>complab bench --compare</code> shows the change).</p>"]
    for suite, cols, rows in benches:
        head = "".join(f"<th>{e(c)}</th>" for c in cols)
        lines = "".join("<tr>" + "".join(f"<td>{e(reporting_bench.cell(r.get(c)))}</td>" for c in cols) + "</tr>"
                        for r in rows)
        body.append(f'<h2>{e(suite)}</h2><table class="bench" id="bench-{e(suite)}"><tr>{head}</tr>{lines}</table>')
    return _page("complab bench", body)


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else (json.dumps(v) if isinstance(v, (list, dict)) else str(v))


def server(directory: Path, port: int = 8000):
    """An HTTP server of the site, bound to 127.0.0.1 only (port 0: a free one)."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no line per request on stderr
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(directory: Path, port: int = 8000) -> None:
    """Serve the site on 127.0.0.1 until Ctrl-C."""
    with server(directory, port) as httpd:
        print(f"serving {directory} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)", flush=True)
        httpd.serve_forever()
