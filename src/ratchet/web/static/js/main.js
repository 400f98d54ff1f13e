// The single page: login, dashboard, pair detail; live updates from the WebSocket.

import { api, ApiError, setCsrf } from "./api.js";
import { dropChart, drawChart, recordPrices } from "./chart.js";
import { renderOrders, renderPairs, renderPositions, renderSummary } from "./dashboard.js";
import { checkAmount } from "./decimal.js";
import { $, h, money, show, table } from "./dom.js";
import { LiveFeed } from "./live.js";

const state = { me: null, snapshot: null, detailPair: null, detailTimer: null };
const feed = new LiveFeed(onSnapshot, () => checkSession());

// -- session -------------------------------------------------------------------------------
async function checkSession() {
  try {
    loggedIn(await api.session());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) loggedOut();
  }
}

function loggedIn(me) {
  state.me = me;
  setCsrf(me.csrf_token);
  $("whoami").textContent = `${me.username} (${me.role})`;
  show("logout", true);
  show("entry-card", me.role !== "viewer");
  show("liquidate-card", me.role === "admin");
  show("detail-exit", me.role === "admin");
  feed.start();
  route();
}

function loggedOut() {
  state.me = null;
  state.snapshot = null;
  setCsrf(null);
  feed.stop();
  $("whoami").textContent = "";
  show("logout", false);
  show("dashboard-view", false);
  show("detail-view", false);
  show("login-view", true);
  $("login-username").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    $("login-error").textContent = "Enter your user name and password.";
    return;
  }
  try {
    const me = await api.login(username, password);
    $("login-password").value = "";
    show("login-view", false);
    loggedIn(me);
  } catch (error) {
    $("login-error").textContent = error.status === 429 ? "Too many failed logins: wait and try again." : error.message;
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await api.logout();
  } finally {
    location.hash = "#/";
    loggedOut();
  }
});

// -- routing -------------------------------------------------------------------------------
function route() {
  if (!state.me) return;
  const match = location.hash.match(/^#\/pair\/([A-Za-z0-9-]+)$/);
  clearInterval(state.detailTimer);
  if (match) {
    state.detailPair = decodeURIComponent(match[1]);
    show("dashboard-view", false);
    show("detail-view", true);
    $("detail-title").textContent = state.detailPair;
    dropChart();
    loadDetail();
    state.detailTimer = setInterval(loadDetail, 2000);
  } else {
    state.detailPair = null;
    show("detail-view", false);
    show("dashboard-view", true);
  }
  if (state.snapshot) onSnapshot(state.snapshot);
}
window.addEventListener("hashchange", route);

// -- live snapshots --------------------------------------------------------------------------
function onSnapshot(snapshot) {
  state.snapshot = snapshot;
  recordPrices(snapshot.prices);
  if (!state.me) return;
  if (state.detailPair) {
    const position = snapshot.positions.find((p) => p.pair === state.detailPair) || null;
    drawChart(state.detailPair, position);
    renderDetailPosition(position, snapshot.prices.find((p) => p.pair === state.detailPair));
    return;
  }
  renderSummary(snapshot.portfolio);
  renderPositions(snapshot.positions);
  renderOrders(snapshot.orders, state.me, cancelOrder);
  renderPairs(snapshot.pairs);
  fillPairChoice(snapshot.pairs);
}

// -- detail page ---------------------------------------------------------------------------
function renderDetailPosition(position, price) {
  const fields = position
    ? [
        ["Status", position.status],
        ["Quantity", money(position.quantity)],
        ["Entry price", money(position.entry_price)],
        ["Last price", money(position.last_price)],
        ["Unrealised P&L", money(position.unrealized_pnl)],
        ["Stop (desired)", money(position.desired_stop)],
        ["Stop (on the exchange)", money(position.confirmed_stop)],
        ["Opened by", position.opened_by],
      ]
    : [["Position", "none"], ["Last price", money(price && price.price)]];
  $("detail-position").replaceChildren(...fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

async function loadDetail() {
  const pair = state.detailPair;
  if (!pair) return;
  try {
    const detail = await api.detail(pair);
    if (pair !== state.detailPair) return;
    table(
      $("detail-orders"),
      ["Order", "Role", "Type", "Status", "Filled / size", "Limit", "Stop", "Owner"],
      detail.orders.map((o) =>
        h("tr", {}, h("td", { class: "mono" }, o.client_order_id), h("td", {}, o.role), h("td", {}, `${o.side} ${o.order_type}`), h("td", {}, o.status), h("td", { class: "num" }, `${money(o.filled_size)} / ${money(o.size)}`), h("td", { class: "num" }, money(o.limit_price)), h("td", { class: "num" }, money(o.stop_price)), h("td", {}, o.owner)),
      ),
    );
    table(
      $("detail-stops"),
      ["Time", "Desired", "On the exchange", "Reason"],
      detail.stops.map((s) => h("tr", {}, h("td", {}, new Date(s.time * 1000).toLocaleString()), h("td", { class: "num" }, money(s.desired)), h("td", { class: "num" }, money(s.confirmed)), h("td", {}, s.reason))),
    );
  } catch (error) {
    if (error.status === 401) loggedOut();
    else $("detail-title").textContent = `${pair}: ${error.message}`;
  }
}

$("exit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = $("exit-reason").value.trim();
  $("exit-error").textContent = "";
  if (!reason) {
    $("exit-error").textContent = "Say why (it goes into the audit log).";
    return;
  }
  try {
    await api.forceExit(state.detailPair, reason);
    $("exit-error").textContent = "Exit requested.";
  } catch (error) {
    $("exit-error").textContent = error.message;
  }
});

// -- entries and cancels ---------------------------------------------------------------------
function fillPairChoice(pairs) {
  const select = $("entry-pair");
  const names = pairs.map((p) => p.pair).join(",");
  if (select.dataset.names === names) return;
  const chosen = select.value;
  select.replaceChildren(...pairs.map((p) => h("option", { value: p.pair }, p.pair)));
  if (chosen) select.value = chosen;
  select.dataset.names = names;
  updateHint();
}

function chosenPair() {
  const pairs = (state.snapshot && state.snapshot.pairs) || [];
  return pairs.find((p) => p.pair === $("entry-pair").value) || null;
}

function updateHint() {
  const pair = chosenPair();
  $("entry-hint").textContent = pair
    ? `Last ${money(pair.last_price)} · price step ${pair.price_increment} · size step ${pair.base_increment}, at least ${pair.base_min_size}`
    : "";
}
$("entry-pair").addEventListener("change", updateHint);

$("entry-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const pair = chosenPair();
  const price = $("entry-price").value.trim();
  const size = $("entry-size").value.trim();
  const priceProblem = checkAmount(price, "Price", pair && pair.price_increment, null);
  const sizeProblem = checkAmount(size, "Size", pair && pair.base_increment, pair && pair.base_min_size);
  $("entry-price-error").textContent = priceProblem;
  $("entry-size-error").textContent = sizeProblem;
  $("entry-error").textContent = "";
  $("entry-ok").textContent = "";
  if (!pair) $("entry-error").textContent = "Choose a pair.";
  if (!pair || priceProblem || sizeProblem) return;
  try {
    const answer = await api.placeEntry(pair.pair, price, size);
    $("entry-ok").textContent = answer.order
      ? `Entry for ${pair.pair} placed: buy ${size} at ${price} (order ${answer.order}).`
      : `Entry for ${pair.pair} queued: buy ${size} at ${price}; the pair is busy, see Orders.`;
  } catch (error) {
    $("entry-error").textContent = error.message;
  }
});

async function cancelOrder(id) {
  $("orders-error").textContent = "";
  try {
    await api.cancel(id);
  } catch (error) {
    $("orders-error").textContent = error.message;
  }
}

// -- emergency liquidation -------------------------------------------------------------------
function liquidationReady() {
  $("liquidate-go").disabled = !($("liquidate-confirm").value === "LIQUIDATE" && $("liquidate-reason").value.trim());
}
$("liquidate-open").addEventListener("click", () => {
  show("liquidate-form", true);
  show("liquidate-open", false);
  $("liquidate-reason").focus();
});
$("liquidate-cancel").addEventListener("click", () => {
  show("liquidate-form", false);
  show("liquidate-open", true);
  $("liquidate-confirm").value = "";
  liquidationReady();
});
$("liquidate-confirm").addEventListener("input", liquidationReady);
$("liquidate-reason").addEventListener("input", liquidationReady);
$("liquidate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ($("liquidate-confirm").value !== "LIQUIDATE") return;
  try {
    await api.liquidate($("liquidate-reason").value.trim());
    $("liquidate-ok").textContent = "Liquidation requested: every position is being sold.";
    show("liquidate-form", false);
  } catch (error) {
    $("liquidate-error").textContent = error.message;
  }
});

checkSession();
