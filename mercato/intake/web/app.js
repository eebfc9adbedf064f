// The market view: polls the public API and redraws. One market is selected by the URL's #fragment.

import { ApiError, getJson, market } from "./api.js";
import { candleChart } from "./chart.js";

const POLL_MS = 2000;
const INTERVALS = {
  "1m": { ms: 60_000, slots: 30 },
  "1h": { ms: 3_600_000, slots: 48 },
  "1d": { ms: 86_400_000, slots: 60 },
};
const state = { markets: [], interval: "1m", goals: new Map(), timer: undefined, busy: false, again: false };
const number = new Intl.NumberFormat("en-US");

// -- small DOM helpers ---------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(key, String(value));
  }
  element.append(...children.map((child) => (child instanceof Node ? child : String(child))));
  return element;
}

const cell = (value, className) => el("td", { class: className }, value);
const coins = (value) => (value === null || value === undefined ? "—" : number.format(value));
const clock = (iso) => new Date(iso).toISOString().slice(11, 19);
const $ = (selector) => document.querySelector(selector);

function fillBody(table, rows, emptyText) {
  const body = $(`${table} tbody`);
  const columns = $(`${table} thead tr`).children.length;
  body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))]));
}

/** The market named by the URL's #fragment, else the first that has traded, else the first. */
function selected() {
  const wanted = location.hash.slice(1);
  const named = state.markets.find((m) => m.material === wanted);
  return (named ?? state.markets.find((m) => m.lastPrice !== null) ?? state.markets[0])?.material;
}

// -- the change over 24 hours --------------------------------------------------------------------

function change(marketView) {
  const delta = marketView.change24h;
  if (delta === null || delta === undefined) return { text: "—", className: "flat" };
  const before = (marketView.lastPrice ?? 0) - delta;
  const percent = before > 0 ? ` (${delta >= 0 ? "+" : ""}${((delta / before) * 100).toFixed(1)} %)` : "";
  const text = `${delta > 0 ? "+" : ""}${number.format(delta)}${percent}`;
  return { text, className: delta > 0 ? "up" : delta < 0 ? "down" : "flat" };
}

// -- rendering -----------------------------------------------------------------------------------

function renderMarkets(current) {
  const commoditiesFirst = [...state.markets].sort(
    (a, b) => (a.kind === "footballer") - (b.kind === "footballer") || a.name.localeCompare(b.name),
  );
  const rows = commoditiesFirst.map((m) => {
    const moved = change(m);
    return el(
      "tr",
      { class: m.material === current ? "selected" : undefined, "data-material": m.material },
      el("td", {}, el("a", { href: `#${encodeURIComponent(m.material)}`, title: m.material }, m.name)),
      cell(coins(m.lastPrice), "num"),
      cell(moved.text, `num ${moved.className}`),
      cell(coins(m.bestBid), "num"),
      cell(coins(m.bestAsk), "num"),
      cell(coins(m.volume24h ?? null), "num"),
    );
  });
  fillBody("#markets", rows, "no markets listed");
}

function renderFootballers() {
  const footballers = state.markets.filter((m) => m.kind === "footballer");
  footballers.sort((a, b) => b.goals - a.goals || b.fundamentalValue - a.fundamentalValue || a.name.localeCompare(b.name));
  const rows = footballers.map((f) =>
    el(
      "tr",
      { "data-material": f.material },
      el("td", {}, el("a", { href: `#${encodeURIComponent(f.material)}` }, f.name), " ", el("small", {}, f.team ?? "")),
      cell(coins(f.fundamentalValue), "num"),
      cell(f.goals, "num"),
    ),
  );
  fillBody("#footballers", rows, "no footballers listed");
}

function renderTimeline() {
  const names = new Map(state.markets.map((m) => [m.material, m.name]));
  const goals = [...state.goals.entries()].flatMap(([material, known]) => known.goals.map((goal) => ({ material, ...goal })));
  goals.sort((a, b) => a.matchId.localeCompare(b.matchId) || a.minute - b.minute || a.postedAt.localeCompare(b.postedAt));
  const items = goals.map((goal) =>
    el(
      "li",
      { class: goal.applied ? "applied" : "pending" },
      el("span", { class: "minute" }, `${goal.minute}'`),
      " ",
      el("a", { href: `#${encodeURIComponent(goal.material)}` }, names.get(goal.material) ?? goal.material),
      " ",
      el("small", {}, goal.applied ? goal.matchId : `${goal.matchId} · pending`),
    ),
  );
  $("#goal-timeline").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "no goals yet")]));
}

function renderMarket(view) {
  $("#market-title").textContent = `${view.name} (${view.material})`;
  const moved = change(view);
  const facts = [
    `last ${coins(view.lastPrice)}`,
    `24 h ${moved.text}`,
    `high ${coins(view.high24h ?? null)}`,
    `low ${coins(view.low24h ?? null)}`,
    `volume 24 h ${coins(view.volume24h ?? null)}`,
    `fee ${view.feeBps / 100} %`,
  ];
  if (view.kind === "footballer") facts.unshift(`${view.team}`, `F ${coins(view.fundamentalValue)}`, `${view.goals} ${view.goals === 1 ? "goal" : "goals"}`);
  $("#market-facts").textContent = facts.join(" · ");
}

function renderBook(book) {
  const depth = Math.max(book.bids.length, book.asks.length);
  const biggest = Math.max(1, ...book.bids.map((l) => l.quantity), ...book.asks.map((l) => l.quantity));
  const bar = (level, side) => {
    const td = cell(level ? number.format(level.quantity) : "", `num depth ${side}`);
    td.style.setProperty("--depth", level ? `${(level.quantity / biggest) * 100}%` : "0%");
    return td;
  };
  const rows = [];
  for (let i = 0; i < depth; i += 1) {
    const bid = book.bids[i];
    const ask = book.asks[i];
    rows.push(
      el(
        "tr",
        {},
        cell(bid ? bid.orders : "", "num muted"),
        bar(bid, "bid"),
        cell(bid ? number.format(bid.price) : "", "num up"),
        cell(ask ? number.format(ask.price) : "", "num down"),
        bar(ask, "ask"),
        cell(ask ? ask.orders : "", "num muted"),
      ),
    );
  }
  fillBody("#book", rows, "the book is empty");
}

function renderTrades(trades) {
  const rows = trades.map((t) =>
    el(
      "tr",
      { "data-trade-id": t.tradeId },
      cell(clock(t.executedAt)),
      cell(number.format(t.price), "num price"),
      cell(number.format(t.quantity), "num quantity"),
      cell(t.takerSide.toLowerCase(), t.takerSide.toLowerCase() === "buy" ? "up" : "down"),
    ),
  );
  fillBody("#trades", rows, "no trades yet");
}

function renderCandles(candles, window) {
  $("#chart").replaceChildren(candleChart(candles, window));
  for (const button of document.querySelectorAll("#intervals button")) {
    button.setAttribute("aria-pressed", String(button.dataset.interval === state.interval));
  }
}

// -- reading the exchange ------------------------------------------------------------------------

async function refreshMarket(material) {
  const { ms, slots } = INTERVALS[state.interval];
  const to = new Date(Math.ceil(Date.now() / ms) * ms);
  const from = new Date(to.getTime() - slots * ms);
  const [view, book, trades, candles] = await Promise.all([
    getJson(market(material)),
    getJson(`${market(material)}/book`, { depth: 10 }),
    getJson(`${market(material)}/trades`, { limit: 20 }),
    getJson(`${market(material)}/candles`, { interval: state.interval, from: from.toISOString(), to: to.toISOString() }),
  ]);
  renderMarket(view);
  renderBook(book);
  renderTrades(trades.trades);
  renderCandles(candles.candles, { from, intervalMs: ms, slots });
}

async function refreshGoals() {
  const scorers = state.markets.filter((m) => m.kind === "footballer" && m.goals > 0);
  const stale = scorers.filter((f) => state.goals.get(f.material)?.count !== f.goals);
  const answers = await Promise.all(stale.map((f) => getJson(`${market(f.material)}/goals`)));
  stale.forEach((f, i) => state.goals.set(f.material, { count: f.goals, goals: answers[i].goals }));
  renderTimeline();
}

function setStatus(text, offline) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("offline", offline);
}

async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  clearTimeout(state.timer);
  try {
    state.markets = await getJson("markets");
    const current = selected();
    renderMarkets(current);
    renderFootballers();
    await Promise.all([current ? refreshMarket(current) : null, refreshGoals()]);
    setStatus(`live · updated ${new Date().toISOString().slice(11, 19)} UTC`, false);
  } catch (error) {
    const reason = error instanceof ApiError ? error.message : "the exchange is unreachable";
    setStatus(`${reason}; retrying`, true);
  } finally {
    state.busy = false;
    state.timer = setTimeout(refresh, state.again ? 0 : POLL_MS);
    state.again = false;
  }
}

window.addEventListener("hashchange", refresh);
document.querySelector("#intervals").addEventListener("click", (event) => {
  const interval = event.target?.dataset?.interval;
  if (interval && interval in INTERVALS) {
    state.interval = interval;
    refresh();
  }
});
refresh();
