"use strict";
// rdprobe's HTML report: draws the JSON in #data with DOM calls that set text only (never
// innerHTML), so strings from the wire are shown, not run. No network access.
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  window.addEventListener("error", function (e) {
    document.body.setAttribute("data-error", String(e.message));
  });

  function el(tag, attrs) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") n.className = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, String(v));
    }
    for (const kid of Array.prototype.slice.call(arguments, 2).flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return n;
  }
  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = String(text);
    return n;
  }
  const fmt = (ms) => (ms === null || ms === undefined ? "" : Number(ms).toFixed(ms < 10 ? 2 : 1) + " ms");
  const cut = (s, n) => (s.length > n ? s.slice(0, n - 1) + "\u2026" : s);
  const badge = (text, cls) => el("span", { class: "badge " + cls }, text);
  // A string from the wire as the text output shows it (probe/src/escape.rs): a backslash as
  // `\\`, C0 controls and DEL as `\xNN`, C1 controls, bidi controls, zero-width and other
  // format characters as `\u{NNNN}`. The JSON carries them as `\uXXXX` escapes, so after
  // JSON.parse they are raw characters again: every wire string is drawn through this.
  const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;
  function wire(s) {
    if (s === null || s === undefined) return s;
    return String(s).replace(UNSAFE, function (ch) {
      const c = ch.charCodeAt(0);
      if (ch === "\\") return "\\\\";
      if (c < 0x20 || c === 0x7f) return "\\x" + c.toString(16).padStart(2, "0");
      return "\\u{" + c.toString(16).padStart(4, "0") + "}";
    });
  }

  // The messages of each stage, in order: [direction, label] ("c" client to server).
  const MSGS = {
    tcp: [["c", "SYN"], ["s", "SYN-ACK"]],
    x224: [["c", "X.224 Connection Request"], ["s", "Connection Confirm"]],
    tls: [["c", "TLS ClientHello"], ["s", "ServerHello \u2026 Finished"]],
    credssp: [["c", "CredSSP TSRequest (NTLM)"], ["s", "TSRequest"]],
    mcs: [["c", "MCS Connect-Initial"], ["s", "Connect-Response"]],
    channels: [["c", "Erect Domain, Attach User, Channel Joins"], ["s", "Attach / Join Confirms"]],
    security_exchange: [["c", "Security Exchange (client random)"]],
    client_info: [["c", "Client Info"]],
    licensing: [["s", "License Request"], ["c", "licensing reply"], ["s", "licensing result"]],
    capabilities: [["s", "Demand Active"], ["c", "Confirm Active"]],
    finalization: [["c", "Synchronize, Control, Font List"], ["s", "Font Map"]],
    active: [["s", "the session (logon screen)"]],
  };

  // A ladder diagram: client and server lanes, an arrow per message with the time its stage
  // ended; the failing step in red with its detail; `end` an optional last row.
  function ladder(stages, end) {
    const rows = [];
    for (const st of stages || []) {
      const bad = st.status !== "ok";
      if (st.name === "dns") {
        rows.push({ note: "DNS: " + wire(st.detail), bad: bad });
        continue;
      }
      const msgs = MSGS[st.name] || [["c", st.name]];
      const shown = bad ? msgs.slice(0, 1) : msgs;
      shown.forEach(function (m, i) {
        rows.push({ dir: m[0], label: m[1], t: st.elapsed_ms, bad: bad && i === shown.length - 1 });
      });
      if (bad) rows.push({ note: st.name + " " + st.status + ": " + wire(st.detail), bad: true });
    }
    if (end) rows.push(end);
    const W = 760, L = 170, R = 600, H = 28, top = 34;
    const height = top + rows.length * H + 12;
    const s = svg("svg", { class: "ladder", width: W, height: height, viewBox: "0 0 " + W + " " + height, role: "img" });
    s.append(svg("title", {}, "ladder diagram: the handshake message by message"));
    s.append(svg("text", { x: L, y: 16, "text-anchor": "middle", "font-weight": 600 }, "client"));
    s.append(svg("text", { x: R, y: 16, "text-anchor": "middle", "font-weight": 600 }, "server"));
    s.append(svg("line", { class: "lane", x1: L, y1: 22, x2: L, y2: height - 6 }));
    s.append(svg("line", { class: "lane", x1: R, y1: 22, x2: R, y2: height - 6 }));
    rows.forEach(function (r, i) {
      const y = top + i * H + 8;
      if (r.note !== undefined) {
        s.append(svg("text", { x: (L + R) / 2, y: y + 4, "text-anchor": "middle", class: r.bad ? "bad-text" : "t" }, cut(String(r.note), 96)));
        return;
      }
      const x1 = r.dir === "c" ? L : R, x2 = r.dir === "c" ? R : L;
      const cls = "msg" + (r.bad ? " bad" : "");
      s.append(svg("line", { class: cls, x1: x1, y1: y, x2: x2, y2: y }));
      const d = x2 > x1 ? -8 : 8;
      s.append(svg("polygon", { points: x2 + "," + y + " " + (x2 + d) + "," + (y - 4) + " " + (x2 + d) + "," + (y + 4), fill: r.bad ? "#cf222e" : "#0969da" }));
      s.append(svg("text", { x: (L + R) / 2, y: y - 5, "text-anchor": "middle", class: r.bad ? "bad-text" : "" }, (r.bad ? "\u2716 " : "") + r.label));
      if (r.t !== undefined) s.append(svg("text", { x: L - 10, y: y + 4, "text-anchor": "end", class: "t" }, fmt(r.t)));
    });
    return s;
  }

  // The stage timeline as bars: each stage from the end of the one before it.
  function timeline(stages) {
    stages = (stages || []).filter((s) => s.elapsed_ms !== null && s.elapsed_ms !== undefined);
    if (!stages.length) return el("p", { class: "meta" }, "no stages");
    const total = Math.max.apply(null, stages.map((s) => s.elapsed_ms).concat([0.001]));
    const W = 760, X = 150, BW = W - X - 90, H = 20;
    const s = svg("svg", { class: "timeline", width: W, height: stages.length * H + 8, role: "img" });
    s.append(svg("title", {}, "stage timeline"));
    let prev = 0;
    stages.forEach(function (st, i) {
      const y = i * H + 4;
      const x0 = X + (BW * Math.min(prev, st.elapsed_ms)) / total;
      const w = Math.max(2, (BW * Math.max(0, st.elapsed_ms - prev)) / total);
      const color = st.status === "ok" ? "#1a7f37" : st.status === "skipped" ? "#8c959f" : "#cf222e";
      s.append(svg("text", { x: X - 8, y: y + 13, "text-anchor": "end" }, st.name));
      s.append(svg("rect", { x: x0, y: y + 2, width: w, height: H - 6, fill: color, rx: 2 }));
      s.append(svg("text", { x: x0 + w + 6, y: y + 13, class: "t" }, fmt(st.elapsed_ms) + (st.status === "ok" ? "" : " " + st.status)));
      prev = Math.max(prev, st.elapsed_ms);
    });
    return s;
  }

  function findings(list) {
    if (!list || !list.length) return el("p", { class: "meta" }, "no findings");
    return el("table", { class: "findings" },
      el("tr", {}, el("th", {}, "severity"), el("th", {}, "finding"), el("th", {}, "what, evidence, fix")),
      list.map((f) => el("tr", {},
        el("td", {}, badge(f.severity, f.severity)),
        el("td", {}, el("code", {}, f.id)),
        el("td", {}, el("div", {}, f.summary), el("div", { class: "evidence" }, "evidence: " + wire(f.evidence)), el("div", { class: "fix" }, "fix: " + f.remediation)))));
  }

  function kv(pairs) {
    return el("table", { class: "kv" }, pairs.filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== "").map((p) => el("tr", {}, el("th", {}, p[0]), el("td", {}, String(p[1])))));
  }
  const yesno = (b) => el("span", { class: b ? "yes" : "no" }, b ? "yes" : "no");

  function headline(d, verdict) {
    return el("p", { class: "headline v-" + verdict }, d && d.headline ? wire(d.headline) : "");
  }

  function mstsc(m) {
    if (!m) return "";
    const code = [m.disconnect_reason, m.extended_reason].filter(Boolean).join(" / extended ");
    return el("p", { class: "meta" }, "mstsc most likely shows " + (code ? code + ": " : "") + m.meaning);
  }

  // ---- probe ----
  const ORDER = ["rdp", "ssl", "hybrid", "hybrid_ex", "rdstls", "rdsaad"];
  function probeResult(r, i) {
    const sec = el("section", { class: "result", id: "t" + i });
    sec.append(el("h2", {}, wire(r.target) + ":" + r.port + " ", badge(r.verdict, "v-" + r.verdict)));
    sec.append(headline(r.diagnosis, r.verdict));
    sec.append(el("p", { class: "meta" }, fmt(r.elapsed_ms) + (r.stopped_at ? ", stopped at " + r.stopped_at : ", not stopped")));
    sec.append(mstsc(r.mstsc));
    sec.append(el("h3", {}, "Findings"), findings(r.findings));
    const end = r.stopped_at ? { note: "the connection stopped at " + r.stopped_at, bad: true } : null;
    sec.append(el("h3", {}, "Ladder"), ladder(r.stages, end));
    sec.append(el("h3", {}, "Timeline"), timeline(r.stages));
    const prot = r.security && r.security.protocols ? r.security.protocols : {};
    const keys = ORDER.filter((k) => k in prot).concat(Object.keys(prot).filter((k) => ORDER.indexOf(k) < 0));
    if (keys.length) {
      sec.append(el("h3", {}, "Security layers"), el("table", {},
        el("tr", {}, el("th", {}, "layer"), el("th", {}, "accepted"), el("th", {}, "answer")),
        keys.map((k) => el("tr", {}, el("td", {}, k), el("td", {}, yesno(prot[k].accepted)), el("td", {}, wire(prot[k].failure) || prot[k].selected || "")))));
      sec.append(el("p", { class: "meta" }, "NLA required: " + (r.security.nla_required === null ? "unknown" : r.security.nla_required ? "yes" : "no")));
    }
    if (r.tls) {
      const v = r.tls.versions || {};
      const vk = Object.keys(v);
      if (vk.length) sec.append(el("h3", {}, "TLS versions"), el("table", {}, el("tr", {}, vk.map((k) => el("th", {}, k))), el("tr", {}, vk.map((k) => el("td", {}, yesno(v[k]))))));
      const c = r.tls.certificate;
      if (c) sec.append(el("h3", {}, "Certificate"), kv([["subject", wire(c.subject)], ["issuer", wire(c.issuer)], ["SANs", (c.sans || []).map(wire).join(", ")], ["serial", wire(c.serial)], ["valid", c.not_before + " .. " + c.not_after], ["expired", c.expired], ["self-signed", c.self_signed], ["names the target", c.name_matches], ["key", c.key_type + " " + c.key_bits + " bits"], ["signature", c.signature], ["session", [r.tls.version, r.tls.cipher].filter(Boolean).join(" ")]]));
    }
    if (r.rdp_security) {
      const m = r.rdp_security;
      sec.append(el("h3", {}, "Standard RDP Security"), kv([["server version", m.server_version], ["encryption level", m.encryption_level], ["methods accepted", (m.encryption_methods || []).join(", ")], ["certificate", m.certificate_type]]));
    }
    if (r.credssp) {
      const n = r.credssp.ntlm || {};
      sec.append(el("h3", {}, "CredSSP / NTLM"), kv([["TSRequest version", r.credssp.version], ["CVE-2018-0886 fix", r.credssp.patched_cve_2018_0886], ["NetBIOS domain / computer", [n.netbios_domain, n.netbios_computer].filter(Boolean).map(wire).join(" / ")], ["DNS domain / computer", [n.dns_domain, n.dns_computer].filter(Boolean).map(wire).join(" / ")], ["Windows version", n.product_version], ["clock skew", n.clock_skew_s === undefined || n.clock_skew_s === null ? null : n.clock_skew_s + " s"]]));
    }
    if (r.clients && r.clients.length) {
      sec.append(el("h3", {}, "Which clients would connect"), el("table", { class: "clients" },
        el("tr", {}, el("th", {}, "client"), el("th", {}, "outcome"), el("th", {}, "what happens"), el("th", {}, "fix")),
        r.clients.map((c) => el("tr", {},
          el("td", {}, c.client),
          el("td", {}, c.outcome === "connects" ? el("span", { class: "yes" }, "connects") : el("span", { class: "no" }, "fails at " + (c.stage || "?"))),
          el("td", {}, c.message),
          el("td", {}, c.fix || "")))));
    }
    return sec;
  }

  // A small chart over the connection's time: `sets` of {values, color, label, dots}.
  function chart(title, sets, dt, gap) {
    const W = 760, H = 110, X = 60, PW = W - X - 20, top = 18, PH = H - top - 22;
    const n = Math.max(1, Math.max.apply(null, sets.map((d) => d.values.length)));
    // The largest value is the top of the axis; a series of zeros gets the axis 0..1.
    const top0 = Math.max.apply(null, sets.map((d) => Math.max.apply(null, d.values.map((v) => v || 0).concat([0]))));
    const max = top0 > 0 ? top0 : 1;
    const s = svg("svg", { class: "chart", width: W, height: H, role: "img" });
    s.append(svg("title", {}, title));
    s.append(svg("text", { x: X, y: 12, "font-weight": 600 }, title));
    s.append(svg("line", { x1: X, y1: top + PH, x2: X + PW, y2: top + PH, stroke: "#8c959f" }));
    s.append(svg("line", { x1: X, y1: top, x2: X, y2: top + PH, stroke: "#8c959f" }));
    s.append(svg("text", { x: X - 4, y: top + 8, "text-anchor": "end", class: "t" }, +max.toPrecision(3)));
    s.append(svg("text", { x: X - 4, y: top + PH, "text-anchor": "end", class: "t" }, "0"));
    s.append(svg("text", { x: X, y: H - 4, class: "t" }, "0"));
    s.append(svg("text", { x: X + PW, y: H - 4, "text-anchor": "end", class: "t" }, fmt(n * dt)));
    if (gap && gap.ms > 0) {
      const gx = X + (PW * gap.from) / (n * dt), gw = Math.max(2, (PW * gap.ms) / (n * dt));
      s.append(svg("rect", { x: gx, y: top, width: Math.min(gw, X + PW - gx), height: PH, fill: "#cf222e", "fill-opacity": 0.12 }));
    }
    const bw = PW / n / sets.length;
    sets.forEach(function (d, k) {
      d.values.forEach(function (v, i) {
        if (v === null || v === undefined || v === 0) return;
        const h = (PH * v) / max;
        if (d.dots) s.append(svg("circle", { cx: X + (i + 0.5) * (PW / n), cy: top + PH - h, r: 2.5, fill: d.color }));
        else s.append(svg("rect", { x: X + i * (PW / n) + k * bw, y: top + PH - h, width: Math.max(1, bw - 0.5), height: h, fill: d.color }));
      });
      s.append(svg("text", { x: X + PW - 4, y: 12 + 12 * k, "text-anchor": "end", fill: d.color }, d.label));
    });
    return s;
  }

  function plots(sr) {
    if (!sr) return "";
    const dt = sr.interval_ms, gap = { ms: sr.longest_gap_ms, from: sr.longest_gap_from_ms };
    return el("div", { class: "plots" },
      el("h3", {}, "Over time (" + fmt(dt) + " intervals; the shaded span is the longest silence: " + fmt(sr.longest_gap_ms) + " from " + fmt(sr.longest_gap_from_ms) + ")"),
      chart("bytes per interval", [{ values: sr.client_bytes, color: "#0969da", label: "client \u2192 server" }, { values: sr.server_bytes, color: "#1a7f37", label: "server \u2192 client" }], dt, gap),
      chart("RTT samples (ms, the largest per interval)", [{ values: sr.rtt_ms, color: "#8250df", label: "RTT", dots: true }], dt, gap),
      chart("retransmissions and zero windows", [{ values: sr.retransmissions, color: "#cf222e", label: "retransmissions" }, { values: sr.zero_windows, color: "#9a6700", label: "zero windows" }], dt, gap));
  }

  // ---- capture ----
  const PAGE = 100;
  function connectionDetail(c) {
    const box = el("div", { class: "detail" });
    box.append(headline(c.diagnosis, c.verdict), mstsc(c.mstsc));
    box.append(el("h3", {}, "Findings"), findings(c.findings));
    let end = null;
    if (c.tcp && c.tcp.reset_by) end = { dir: c.tcp.reset_by === "client" ? "c" : "s", label: "RST (" + c.tcp.reset_by + " ended it" + (c.tcp.reset_stage ? ", during " + c.tcp.reset_stage : "") + ")", bad: c.verdict !== "ok" };
    box.append(el("h3", {}, "Ladder"), ladder(c.stages, end));
    box.append(el("h3", {}, "Timeline"), timeline(c.stages));
    box.append(plots(c.series));
    const t = c.tcp || {};
    box.append(el("h3", {}, "TCP"), kv([["state / history", t.state + " " + t.history], ["SYN RTT", fmt(t.syn_rtt_ms)], ["packets (client / server)", t.packets + " (" + t.client_packets + " / " + t.server_packets + ")"], ["bytes (client / server)", t.bytes + " (" + t.client_bytes + " / " + t.server_bytes + ")"], ["retransmissions", t.retransmissions], ["lost segments", t.lost_segments], ["zero windows", t.zero_windows], ["reset by", t.reset_by]]));
    if (c.rdp) {
      const r = c.rdp;
      box.append(el("h3", {}, "RDP"), kv([["cookie", wire(r.cookie)], ["requested", (r.requested_protocols || []).join(", ")], ["selected", r.selected_protocol], ["failure", r.failure], ["TLS", r.tls ? [r.tls.version, r.tls.cipher, r.tls.sni ? "SNI " + wire(r.tls.sni) : ""].filter(Boolean).join(" ") : null], ["certificate", r.tls && r.tls.certificate ? wire(r.tls.certificate.subject) : null]]));
    }
    return box;
  }

  function captureFile(rep, fi) {
    const sec = el("section", { class: "result", id: "f" + fi });
    const s = rep.summary || {};
    sec.append(el("h2", {}, wire(rep.file)));
    sec.append(el("p", { class: "meta" }, rep.packets + " packets, " + rep.bytes + " bytes, " + (rep.connections || []).length + " connection(s): " + s.ok + " ok, " + s.warning + " warning, " + s.error + " error"));
    (rep.notices || []).forEach((n) => sec.append(el("p", { class: "meta" }, "notice: " + wire(n))));
    if ((rep.findings || []).length) sec.append(el("h3", {}, "Across the capture"), findings(rep.findings));
    const conns = (rep.connections || []).map((c, i) => ({ c: c, i: i, primary: c.diagnosis && c.diagnosis.primary_finding ? c.diagnosis.primary_finding : "", hay: ((c.findings || []).map((f) => f.id).join(" ") + " " + wire(c.client) + " " + wire(c.server) + " " + (c.diagnosis ? wire(c.diagnosis.headline) : "")).toLowerCase() }));
    const state = { verdict: "", stage: "", text: "", sort: "i", dir: 1, page: 0, open: -1 };
    const stages = Array.from(new Set(conns.map((x) => x.c.stopped_at).filter(Boolean)));
    const verdictSel = el("select", { "aria-label": "verdict" }, el("option", { value: "" }, "any verdict"), ["ok", "warning", "error"].map((v) => el("option", { value: v }, v)));
    const stageSel = el("select", { "aria-label": "stopped at" }, el("option", { value: "" }, "any stop"), el("option", { value: "-" }, "not stopped"), stages.map((v) => el("option", { value: v }, v)));
    const text = el("input", { type: "search", placeholder: "finding, address, headline", "aria-label": "filter" });
    const table = el("table", { class: "connections" });
    const pager = el("div", { class: "pager" });
    const detail = el("div", {});
    const cols = [["i", "#"], ["start", "start"], ["client", "client"], ["server", "server"], ["verdict", "verdict"], ["stopped_at", "stopped at"], ["primary", "primary finding"], ["duration_ms", "duration"]];
    function value(x, k) {
      if (k === "i") return x.i;
      if (k === "primary") return x.primary;
      const v = x.c[k];
      return v === null || v === undefined ? "" : v;
    }
    function draw() {
      const t = state.text.toLowerCase();
      let rows = conns.filter((x) => (!state.verdict || x.c.verdict === state.verdict) &&
        (!state.stage || (state.stage === "-" ? !x.c.stopped_at : x.c.stopped_at === state.stage)) &&
        (!t || x.hay.indexOf(t) >= 0));
      rows.sort((a, b) => {
        const va = value(a, state.sort), vb = value(b, state.sort);
        return (va < vb ? -1 : va > vb ? 1 : a.i - b.i) * state.dir;
      });
      const pages = Math.max(1, Math.ceil(rows.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      table.replaceChildren(el("tr", {}, cols.map((col) => el("th", { class: "sortable", onclick: () => { state.dir = state.sort === col[0] ? -state.dir : 1; state.sort = col[0]; draw(); } }, col[1] + (state.sort === col[0] ? (state.dir > 0 ? " \u25b2" : " \u25bc") : "")))));
      rows.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach((x) => {
        const c = x.c;
        table.append(el("tr", { class: "row" + (state.open === x.i ? " open" : ""), id: "f" + fi + "c" + (x.i + 1), "data-verdict": c.verdict, onclick: () => open(x.i === state.open ? -1 : x.i) },
          el("td", { class: "num" }, el("a", { href: "#f" + fi + "c" + (x.i + 1) }, x.i + 1)), el("td", {}, c.start), el("td", {}, wire(c.client)), el("td", {}, wire(c.server)),
          el("td", {}, badge(c.verdict, "v-" + c.verdict)), el("td", {}, c.stopped_at || ""), el("td", {}, x.primary), el("td", { class: "num" }, fmt(c.duration_ms))));
      });
      pager.replaceChildren(
        el("button", { onclick: () => { state.page = Math.max(0, state.page - 1); draw(); }, disabled: state.page === 0 }, "previous"),
        "page " + (state.page + 1) + " of " + pages + " (" + rows.length + " of " + conns.length + " connections)",
        el("button", { onclick: () => { state.page += 1; draw(); }, disabled: state.page >= pages - 1 }, "next"));
    }
    // Opens connection `i` (its details under the table), or closes it with -1.
    function open(i) {
      state.open = i;
      detail.replaceChildren(i < 0 ? "" : el("h3", {}, "Connection " + (i + 1) + ": " + wire(conns[i].c.client) + " \u2192 " + wire(conns[i].c.server)), i < 0 ? "" : connectionDetail(conns[i].c));
      if (i >= 0) state.page = Math.floor(i / PAGE);
      draw();
    }
    verdictSel.addEventListener("change", () => { state.verdict = verdictSel.value; state.page = 0; draw(); });
    stageSel.addEventListener("change", () => { state.stage = stageSel.value; state.page = 0; draw(); });
    text.addEventListener("input", () => { state.text = text.value; state.page = 0; draw(); });
    sec.append(el("div", { class: "filters" }, el("label", {}, "show"), verdictSel, stageSel, text), table, pager, detail);
    draw();
    // A link to a connection (#f0c3) or a single connection opens it at once.
    const m = /^#f(\d+)c(\d+)$/.exec(window.location.hash);
    if (m && Number(m[1]) === fi && Number(m[2]) >= 1 && Number(m[2]) <= conns.length) open(Number(m[2]) - 1);
    else if (conns.length === 1) open(0);
    return sec;
  }

  // A summary's counts as a small table: [label, count] rows.
  function countTable(title, head, rows) {
    if (!rows.length) return "";
    return el("div", { class: "block" }, el("h3", {}, title),
      el("table", { class: "summary-counts" }, el("tr", {}, head.map((h) => el("th", {}, h))),
        rows.map((r) => el("tr", {}, r.map((c, i) => el("td", i > 0 && typeof c === "number" ? { class: "num" } : {}, c))))));
  }
  // Finding rows, most first: id, severity, count, a few examples (wire strings).
  function findingRows(findings, count, examples) {
    const sev = { error: 3, warning: 2, info: 1 };
    return Object.entries(findings)
      .sort((a, b) => b[1][count] - a[1][count] || sev[b[1].severity] - sev[a[1].severity] || (a[0] < b[0] ? -1 : 1))
      .map(([id, f]) => [id, badge(f.severity, f.severity), f[count], f[examples].map(wire).join(", ")]);
  }
  // `summarize` over probe runs: verdicts, stops, findings by targets, the slowest.
  function fleetSummary(s) {
    const sec = el("section", { class: "result summary" });
    sec.append(el("h2", {}, s.targets + " targets ", Object.entries(s.verdicts).map(([v, n]) => badge(n + " " + v, "v-" + v))));
    sec.append(countTable("Stopped at", ["stage", "targets"], Object.entries(s.stopped_at)));
    sec.append(countTable("Findings", ["finding", "severity", "targets", "e.g."], findingRows(s.findings, "targets", "examples")));
    sec.append(countTable("Slowest", ["target", "time", "verdict", "stopped at"],
      s.slowest.map((x) => [wire(x.target), fmt(x.elapsed_ms), badge(x.verdict, "v-" + x.verdict), x.stopped_at || ""])));
    return sec;
  }
  // `summarize` over pcap runs, or the end of `pcap` over several files.
  function archiveSummary(s) {
    const t = s.summary;
    const sec = el("section", { class: "result summary" });
    sec.append(el("h2", {}, s.files + " capture files, " + t.connections + " connections ",
      badge(t.ok + " ok", "v-ok"), badge(t.warning + " warning", "v-warning"), badge(t.error + " error", "v-error")));
    sec.append(el("p", {}, s.packets + " packets, " + t.rdp_connections + " RDP connections, " + t.other_tcp_flows + " other TCP flows (" + (t.other_tcp_failed || 0) + " failed), " + t.udp_rdp_flows + " RDP over UDP flows"));
    sec.append(countTable("Stopped at", ["stage", "connections"], Object.entries(s.stopped_at)));
    sec.append(countTable("Findings", ["finding", "severity", "connections", "e.g. servers"], findingRows(s.findings, "connections", "servers")));
    sec.append(countTable("Capture findings", ["finding", "severity", "files", "e.g."], findingRows(s.capture_findings, "files", "examples")));
    return sec;
  }

  const data = JSON.parse(document.getElementById("data").textContent);
  const main = document.getElementById("report");
  main.replaceChildren();
  if (data && data.kind === "probe") {
    if (!data.results.length) main.append(el("p", {}, "no targets"));
    data.results.forEach((r, i) => main.append(probeResult(r, i)));
  } else if (data && data.kind === "capture") {
    if (data.summary) main.append(archiveSummary(data.summary));
    data.files.forEach((f, i) => main.append(captureFile(f, i)));
  } else if (data && data.kind === "fleet") {
    main.append(fleetSummary(data.summary));
  } else if (data && data.kind === "archive") {
    main.append(archiveSummary(data.summary));
  }
  document.body.setAttribute("data-rendered", "yes");
})();
