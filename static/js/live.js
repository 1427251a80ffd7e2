/* The live overview: one WebSocket to /api/v1/ws that reconnects by itself (resuming from the last event id) and
   keeps the tiles, the payments-per-second chart, the volume table, the latest payments and the alerts current.
   No framework, no build step; the page's settings come from the JSON block "live-config". */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("live-config").textContent);
  var statusBox = document.getElementById("live-status");
  var ALERTS = ["compliance_alert", "limit_alert", "fx_spike", "liquidity_rebalance", "netting_cycle"];
  var KEEP_PAYMENTS = 12;
  var KEEP_ALERTS = 30;
  var lastEventId = config.last_event_id;
  var attempts = 0;
  var lastReload = 0;

  function setState(state, text) {
    statusBox.dataset.state = state;
    statusBox.querySelector(".text").textContent = text;
  }

  function socketUrl() {
    var url = new URL(config.url, window.location.href);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    // A loopback address follows the page's own host name, so the session cookie goes with the socket.
    var loopback = ["127.0.0.1", "localhost", "[::1]"];
    if (loopback.indexOf(url.hostname) >= 0 && loopback.indexOf(window.location.hostname) >= 0) {
      url.hostname = window.location.hostname;
    }
    return url.toString();
  }

  function connect() {
    setState(attempts ? "reconnecting" : "connecting", attempts ? "Reconnecting…" : "Connecting to live updates…");
    var socket = new WebSocket(socketUrl());
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ action: "subscribe", topics: config.topics, last_event_id: lastEventId }));
    });
    socket.addEventListener("message", function (message) {
      handle(JSON.parse(message.data));
    });
    socket.addEventListener("close", function () {
      attempts += 1;
      var wait = Math.min(15000, 500 * Math.pow(2, Math.min(attempts - 1, 5))) * (0.75 + Math.random() / 2);
      setState("reconnecting", "Disconnected; reconnecting in " + Math.max(1, Math.round(wait / 1000)) + " s…");
      window.setTimeout(connect, wait);
    });
  }

  function handle(message) {
    if (typeof message.last_event_id === "number" && message.type !== "subscribed") {
      lastEventId = Math.max(lastEventId, message.last_event_id);
    }
    if (message.type === "subscribed") {
      attempts = 0;
      setState("live", "Live");
    } else if (message.type === "payment_update") {
      message.events.forEach(function (event) { showPayment(event.data); });
    } else if (message.type === "metrics_update") {
      showFigures(message.events[message.events.length - 1].data);
    } else if (ALERTS.indexOf(message.type) >= 0) {
      message.events.forEach(function (event) { showAlert(message.type, event); });
    } else if (message.type === "resync") {
      // Too far behind to replay: the page itself is the fresh state (at most one reload a minute).
      if (Date.now() - lastReload > 60000) {
        lastReload = Date.now();
        window.location.reload();
      }
    } else if (message.type === "error") {
      setState("refused", message.message);
    }
  }

  // --- figures ---

  function text(el, value) {
    if (el && el.textContent !== value) {
      el.textContent = value;
      el.classList.remove("changed");
      void el.offsetWidth;
      el.classList.add("changed");
    }
  }

  function grouped(number) {
    return Number(number).toLocaleString("en-GB");
  }

  function showFigures(m) {
    var shown = {
      tps: String(m.tps),
      success_rate: m.success_rate === null ? "–" : String(Math.round(m.success_rate * 100) / 100) + "%",
      queue_depth: grouped(m.queue_depth),
      processing_count: grouped(m.processing_count),
      compliance_review: grouped(m.compliance_review),
      awaiting_liquidity: grouped(m.awaiting_liquidity),
      settled_today: grouped(m.settled_today),
      failed_last_1h: grouped(m.failed_last_1h),
      average_processing_seconds: m.average_processing_seconds === null ? "–" : m.average_processing_seconds.toFixed(1) + " s",
      active_banks: grouped(m.active_banks)
    };
    Object.keys(shown).forEach(function (key) {
      text(document.querySelector('[data-metric="' + key + '"]'), shown[key]);
    });
    var asOf = document.getElementById("as-of");
    asOf.setAttribute("datetime", m.timestamp);
    asOf.textContent = m.timestamp.slice(11, 19) + " UTC";
    if (m.per_second) drawRate(m.per_second);
    drawVolume(m);
  }

  function niceCeiling(value) {
    if (value <= 0) return 1;
    var magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * magnitude >= value) return steps[i] * magnitude;
    return 10 * magnitude;
  }

  function drawRate(values) {
    var top = niceCeiling(Math.max.apply(null, values.concat([0])));
    var points = values.map(function (v, i) { return i + "," + (100 - (100 * v) / top).toFixed(1); });
    document.getElementById("rate-line").setAttribute("points", points.join(" "));
    document.getElementById("rate-top-label").textContent = top + "/s";
    document.getElementById("rate-top").textContent = String(top);
  }

  function drawVolume(m) {
    var body = document.querySelector("#volume tbody");
    var currencies = Object.keys(m.volume_24h).sort(function (a, b) {
      return Number(m.volume_24h_usd[b]) - Number(m.volume_24h_usd[a]);
    });
    if (!currencies.length) return;
    var largest = Math.max.apply(null, currencies.map(function (c) { return Number(m.volume_24h_usd[c]); }));
    var rows = currencies.map(function (c) {
      var row = body.querySelector('tr[data-currency="' + c + '"]') || volumeRow(c);
      text(row.querySelector(".amount"), formatAmount(m.volume_24h[c], c));
      text(row.querySelector(".count"), grouped(m.count_24h[c]));
      var share = largest > 0 ? (100 * Number(m.volume_24h_usd[c])) / largest : 0;
      row.querySelector("rect").setAttribute("width", share.toFixed(2) + "%");
      return row;
    });
    body.replaceChildren.apply(body, rows);
  }

  var SVG = "http://www.w3.org/2000/svg";

  function cell(tag, className, content) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function volumeRow(currency) {
    var row = document.createElement("tr");
    row.dataset.currency = currency;
    var head = cell("th", "", currency);
    head.scope = "row";
    var amount = cell("td", "num amount");
    amount.dataset.label = "Volume";
    var count = cell("td", "num count");
    count.dataset.label = "Payments";
    row.append(head, amount, count);
    var barCell = cell("td", "bar-col");
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "100%");
    svg.setAttribute("height", "12");
    svg.setAttribute("aria-hidden", "true");
    var rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "bar");
    rect.setAttribute("height", "12");
    svg.append(rect);
    barCell.append(svg);
    row.append(barCell);
    return row;
  }

  function formatAmount(amount, currency) {
    var places = config.minor_units[currency];
    if (places === undefined) places = 2;
    var parts = String(amount).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var fraction = ((parts[1] || "") + "0000").slice(0, places);
    return places ? whole + "." + fraction : whole;
  }

  // --- payments ---

  function showPayment(p) {
    var body = document.querySelector("#latest-payments tbody");
    var none = body.querySelector("tr.none");
    if (none) none.remove();
    var row = body.querySelector('tr[data-payment="' + p.id + '"]');
    if (!row) {
      row = document.createElement("tr");
      row.dataset.payment = p.id;
      var ref = cell("td", "ref");
      var link = cell("a", "", p.payment_reference);
      link.href = config.payment_url.replace(config.payment_placeholder, p.id);
      var route = cell("small", "route");
      route.append(cell("span", "bic", p.sender_bic), " → ", cell("span", "bic", p.receiver_bic));
      ref.append(link, document.createElement("br"), route);
      row.append(ref, cell("td", "num", formatAmount(p.amount, p.currency) + " " + p.currency), cell("td", "state"));
      body.prepend(row);
      row.classList.add("new");
      while (body.rows.length > KEEP_PAYMENTS) body.deleteRow(-1);
    }
    var badge = cell("span", "status status-" + p.status, config.status_labels[p.status] || p.status);
    row.cells[2].replaceChildren(badge);
  }

  // --- alerts ---

  function percent(fraction) {
    return (Number(fraction) * 100).toFixed(fraction < 0.1 ? 1 : 0) + "%";
  }

  function describe(kind, d) {
    switch (kind) {
      case "compliance_alert":
        return "Payment held for compliance review: risk " + d.risk_score + " (" + d.risk_level + ")" +
          (d.definite_hit ? ", definite list hit" : "") + (d.lists && d.lists.length ? " on " + d.lists.join(", ") : "") + ".";
      case "limit_alert":
        return d.bic + " is at " + percent(d.utilisation) + " of its daily liquidity limit (" +
          formatAmount(d.net_debit_usd, "USD") + " of " + formatAmount(d.limit_usd, "USD") + " USD).";
      case "fx_spike":
        return d.pair + " jumped to " + d.rate + " from " + d.previous + ".";
      case "liquidity_rebalance":
        return d.status === "noop" ? "Pool rebalance run: nothing to move." :
          "Pool rebalanced (" + d.trigger + "): " + (d.moves || []).length + " FX move(s), cost " + d.fx_cost_usd + " USD.";
      case "netting_cycle":
        if (d.status === "failed") return "Netting cycle " + d.id + " failed: " + (d.failure_reason || "see the cycle") + ".";
        return "Netting cycle " + d.id + " " + d.status + ": " + grouped(d.payment_count) + " payments, gross " +
          formatAmount(d.gross_usd, "USD") + " USD, net " + formatAmount(d.net_usd, "USD") + " USD, efficiency " +
          percent(d.efficiency) + ".";
      default:
        return kind;
    }
  }

  var KIND_LABELS = {
    compliance_alert: "Compliance",
    limit_alert: "Limit",
    fx_spike: "FX spike",
    liquidity_rebalance: "Pool",
    netting_cycle: "Netting"
  };

  function showAlert(kind, event) {
    var list = document.getElementById("alerts");
    if (list.querySelector('[data-event="' + event.id + '"]')) return;
    var item = document.createElement("li");
    item.dataset.event = event.id;
    item.dataset.kind = kind;
    var label = cell("span", "kind " + kind, KIND_LABELS[kind] || kind);
    var what = cell("span", "what", describe(kind, event.data));
    var when = cell("time", "", event.created_at.slice(0, 19).replace("T", " ") + " UTC");
    when.setAttribute("datetime", event.created_at);
    item.append(label, what, when);
    list.prepend(item);
    while (list.children.length > KEEP_ALERTS) list.lastElementChild.remove();
    document.getElementById("alerts-empty").hidden = true;
  }

  config.alerts.forEach(function (event) { showAlert(event.type, event); });
  connect();
})();
