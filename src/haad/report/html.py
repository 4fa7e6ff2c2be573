"""Page assembly for the HTML reports: one self-contained file (inline CSS, inline SVG, data as JSON in
a ``<script type="application/json">`` block, a small inline script that animates skeletons on
``<canvas>`` elements). Nothing is fetched from the network, so a report opens offline.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import numpy as np

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#222;background:#fff}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.unseen td:first-child{font-style:italic}
.tag{display:inline-block;font-size:.75em;padding:0 5px;border-radius:3px;color:#fff}
.tag.seen{background:#4e79a7}.tag.unseen{background:#f28e2b}.tag.flag{background:#e15759}.tag.ok{background:#59a14f}
.plots{display:flex;flex-wrap:wrap;gap:8px}
.note{background:#fff8e1;border-left:4px solid #edc948;padding:6px 10px;margin:.6em 0}
.card{border:1px solid #ddd;border-radius:4px;padding:8px 10px;margin:10px 0;display:flex;gap:16px;flex-wrap:wrap}
.card canvas{border:1px solid #eee;cursor:pointer}
.card .meta{font-size:.9em;flex:1;min-width:280px}.card .meta h3{margin:.2em 0}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:.9em}
dl.kv dt{font-weight:bold}dl.kv dd{margin:0;font-family:monospace;white-space:pre-wrap;word-break:break-all}
svg.plot{background:#fff}
footer{margin-top:2em;font-size:.8em;color:#777}
"""

# Animates every <canvas class="skeleton" data-anim="i">: the scored window on the left, its nearest
# support window on the right, bones from the layout's parents, joints coloured by their share.
ANIMATION_JS = r"""
(function(){
  var el = document.getElementById('haad-data');
  if (!el) return;
  var data = JSON.parse(el.textContent);
  var bones = data.bones || [];
  function decode(w){
    var t = w.t, j = w.j, s = w.s / 1000, out = new Array(t);
    for (var f = 0; f < t; f++){
      var fr = new Array(j);
      for (var k = 0; k < j; k++){ var i = 2 * (f * j + k); fr[k] = [w.o[0] + w.f[i] * s, w.o[1] + w.f[i + 1] * s]; }
      out[f] = fr;
    }
    return {frames: out, box: [w.o[0], w.o[1], w.o[0] + w.s, w.o[1] + w.s]};
  }
  function shareColor(v){
    var r = Math.round(200 + 14 * v), g = Math.round(200 - 161 * v), b = Math.round(200 - 160 * v);
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }
  function drawSkeleton(ctx, w, f, x0, width, height, shares, label){
    var fr = w.frames[f % w.frames.length], box = w.box, pad = 14;
    var sc = Math.min((width - 2 * pad) / (box[2] - box[0] || 1), (height - 2 * pad - 14) / (box[3] - box[1] || 1));
    function X(p){ return x0 + pad + (p[0] - box[0]) * sc; }
    function Y(p){ return height - pad - (p[1] - box[1]) * sc; }
    ctx.strokeStyle = '#555'; ctx.lineWidth = 2;
    for (var b = 0; b < bones.length; b++){
      var c = fr[bones[b][0]], p = fr[bones[b][1]];
      ctx.beginPath(); ctx.moveTo(X(c), Y(c)); ctx.lineTo(X(p), Y(p)); ctx.stroke();
    }
    var mx = 0;
    if (shares) for (var i = 0; i < shares.length; i++) mx = Math.max(mx, shares[i]);
    for (var k = 0; k < fr.length; k++){
      ctx.fillStyle = shares ? shareColor(mx > 0 ? shares[k] / mx : 0) : '#4e79a7';
      var r = shares ? 3 + 4 * (mx > 0 ? shares[k] / mx : 0) : 3;
      ctx.beginPath(); ctx.arc(X(fr[k]), Y(fr[k]), r, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.fillStyle = '#222'; ctx.font = '12px sans-serif'; ctx.fillText(label, x0 + 6, 14);
  }
  var players = [];
  var canvases = document.querySelectorAll('canvas.skeleton');
  for (var c = 0; c < canvases.length; c++){
    var cv = canvases[c], item = data.items[+cv.getAttribute('data-anim')];
    var q = decode(item.window), s = item.support >= 0 ? decode(data.support[item.support]) : null;
    players.push({cv: cv, q: q, s: s, shares: item.shares, f: 0, playing: true});
    cv.addEventListener('click', (function(p){ return function(){ p.playing = !p.playing; }; })(players[players.length - 1]));
  }
  function render(p){
    var ctx = p.cv.getContext('2d'), w = p.cv.width, h = p.cv.height, half = p.s ? w / 2 : w;
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
    drawSkeleton(ctx, p.q, p.f, 0, half, h, p.shares, 'scored window');
    if (p.s){
      ctx.strokeStyle = '#ddd'; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(half, 0); ctx.lineTo(half, h); ctx.stroke();
      drawSkeleton(ctx, p.s, p.f, half, half, h, null, 'nearest support');
    }
    ctx.fillStyle = '#777'; ctx.font = '11px sans-serif';
    ctx.fillText('frame ' + (p.f % p.q.frames.length + 1) + '/' + p.q.frames.length, 6, h - 4);
  }
  var last = 0;
  function tick(t){
    if (t - last >= 1000 / 30){
      last = t;
      for (var i = 0; i < players.length; i++){ var p = players[i]; if (p.playing){ render(p); p.f = (p.f + 1) % p.q.frames.length; } }
    }
    window.requestAnimationFrame(tick);
  }
  for (var i = 0; i < players.length; i++) render(players[i]);
  window.requestAnimationFrame(tick);
})();
"""


def esc(value) -> str:
    """HTML-escaped text of any value."""
    return escape(str(value))


def table(headers, rows, cls: str = "", row_classes=None) -> str:
    """An HTML table; ``rows`` hold cell HTML (escape text first); numeric-looking cells align right."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(f'<td class="num">{c}</td>' if _numeric(c) else f"<td>{c}</td>" for c in row)
        body.append(f"<tr{rc}>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _numeric(cell) -> bool:
    text = str(cell).replace("±", "").replace("%", "").replace(" ", "").replace(".", "").replace("-", "")
    return text.isdigit()


def key_values(pairs) -> str:
    """A definition list of (key, value) pairs; dict and list values are shown as indented JSON."""
    items = []
    for k, v in pairs:
        text = json.dumps(v, indent=1, default=str) if isinstance(v, (dict, list, tuple)) else str(v)
        items.append(f"<dt>{esc(k)}</dt><dd>{esc(text)}</dd>")
    return f'<dl class="kv">{"".join(items)}</dl>'


def note(text_html: str) -> str:
    """A highlighted note."""
    return f'<p class="note">{text_html}</p>'


def json_script(obj, element_id: str = "haad-data") -> str:
    """``obj`` as JSON in an inert script block (``</`` escaped so it cannot close the block)."""
    text = json.dumps(obj, separators=(",", ":"), default=_json_default).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def page(title: str, body: str, data=None) -> str:
    """A complete HTML document: ``body`` HTML, and with ``data`` (JSON-able) the embedded data block and
    the skeleton animation script."""
    from haad import __version__

    script = ""
    if data is not None:
        script = json_script(data) + f"<script>{ANIMATION_JS}</script>"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
            f"<footer>written by haad {esc(__version__)}; a self-contained page (no network access)</footer>"
            f"{script}</body></html>\n")


def write_page(path, html_text: str) -> Path:
    """Write a page atomically; returns its path."""
    from haad.storage import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, html_text.encode("utf-8"))
    return path
