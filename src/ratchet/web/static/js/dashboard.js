// The dashboard: summary cards, concentration, positions, orders and pairs from a snapshot.

import { $, h, money, percent, show, signed, table } from "./dom.js";

function card(label, value, cls = "", id = null) {
  return h("div", { class: `figure ${cls}`, id }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

export function renderSummary(folio) {
  const quote = folio.quote_currency;
  const realized = signed(folio.realized_pnl);
  const unrealized = signed(folio.unrealized_pnl);
  const winRate = folio.win_rate === null ? "—" : percent(Number(folio.win_rate) * 100, 0);
  $("summary").replaceChildren(
    card(`Capital (${quote})`, money(folio.total_capital), "", "figure-capital"),
    card("Deployed", `${money(folio.deployed)} · ${percent(folio.deployed_pct)}`),
    card("Available", money(folio.available)),
    card("Realised P&L", realized.text, realized.cls, "figure-realized"),
    card("Unrealised P&L", unrealized.text, unrealized.cls, "figure-unrealized"),
    card("Win rate", `${winRate} of ${folio.closed_trades}`),
    card("Open positions", String(folio.open_positions)),
    card("Top concentration", percent(folio.top_concentration_pct)),
  );
  const bars = Object.entries(folio.concentration || {}).map(([pair, pct]) =>
    h(
      "div",
      { class: "bar-row" },
      h("span", { class: "bar-label" }, pair),
      h("progress", { max: "100", value: String(Math.min(100, Number(pct))) }),
      h("span", { class: "bar-value" }, percent(pct)),
    ),
  );
  const groups = Object.entries(folio.exposure_by_group || {}).map(([group, value]) =>
    h("div", { class: "bar-row" }, h("span", { class: "bar-label" }, group), h("span", {}, money(value))),
  );
  $("concentration").replaceChildren(
    ...(bars.length ? bars : [h("p", { class: "muted" }, "Nothing deployed.")]),
    ...(groups.length ? [h("h3", {}, "By correlation group"), ...groups] : []),
  );
}

export function renderPositions(positions) {
  const rows = positions.map((p) => {
    const pnl = signed(p.unrealized_pnl);
    return h(
      "tr",
      { dataset: { pair: p.pair } },
      h("td", {}, h("a", { href: `#/pair/${encodeURIComponent(p.pair)}` }, p.pair)),
      h("td", {}, p.status),
      h("td", { class: "num" }, money(p.quantity)),
      h("td", { class: "num" }, money(p.entry_price)),
      h("td", { class: "num live-price" }, money(p.last_price)),
      h("td", { class: `num ${pnl.cls}` }, pnl.text),
      h("td", { class: "num" }, money(p.desired_stop)),
      h("td", { class: "num" }, money(p.confirmed_stop)),
      h("td", { class: "num" }, percent(p.share_pct)),
    );
  });
  table($("positions-table"), ["Pair", "Status", "Quantity", "Entry", "Last", "Unrealised", "Stop (desired)", "Stop (exchange)", "Share"], rows);
  show("positions-empty", rows.length === 0);
}

export function renderOrders(orders, me, onCancel) {
  const rows = orders.map((o) => {
    const mayCancel = o.cancellable && me && (me.role === "admin" || (me.role === "operator" && o.owner === me.username));
    return h(
      "tr",
      { dataset: { order: o.client_order_id } },
      h("td", { class: "mono" }, o.client_order_id),
      h("td", {}, o.pair),
      h("td", {}, o.role),
      h("td", {}, `${o.side} ${o.order_type}`),
      h("td", {}, o.status),
      h("td", { class: "num" }, `${money(o.filled_size)} / ${money(o.size)}`),
      h("td", { class: "num" }, money(o.limit_price)),
      h("td", { class: "num" }, money(o.stop_price)),
      h("td", {}, o.owner),
      h("td", {}, mayCancel ? h("button", { class: "small cancel", type: "button", onclick: () => onCancel(o.client_order_id) }, "Cancel") : ""),
    );
  });
  table($("orders-table"), ["Order", "Pair", "Role", "Type", "Status", "Filled / size", "Limit", "Stop", "Owner", ""], rows);
  show("orders-empty", rows.length === 0);
}

function verdict(ok) {
  return ok === true ? "✓" : ok === false ? "✗" : "…";
}

export function renderPairs(pairs) {
  const rows = pairs.map((p) => {
    const s = p.signal;
    return h(
      "tr",
      { dataset: { pair: p.pair } },
      h("td", {}, h("a", { href: `#/pair/${encodeURIComponent(p.pair)}` }, p.pair)),
      h("td", {}, p.status),
      h("td", { class: "num live-price" }, money(p.last_price)),
      h("td", {}, s ? `RSI ${verdict(s.rsi_ok)} MACD ${verdict(s.macd_ok)} VWAP ${verdict(s.vwap_ok)}` : "—"),
      h("td", {}, s ? (s.enter ? "enter" : "wait") : "—"),
    );
  });
  table($("pairs-table"), ["Pair", "Status", "Last price", "Confirmations", "Signal"], rows);
}
