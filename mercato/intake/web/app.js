// The market view: polls the public API and redraws. One market is selected by the URL's #fragment.

import { ApiError, getJson, market } from "./api.js";
import { candleChart } from "./chart.js";

const POLL_MS = 2000;
/** The leaderboard is read every this many refreshes (it is rolled up every 10 s locally, every few
 * minutes deployed), and at once when its window changes. */
const BOARD_EVERY = 5;
const BOARD_SIZE = 10;
/** At most this many footballers' goal lists are read per refresh (the rest on the next ones), so a
 * catalog of thousands of scorers does not send thousands of requests at once. */
const GOAL_READS_PER_REFRESH = 8;
const INTERVALS = {
  "1m": { ms: 60_000, slots: 30 },
  "1h": { ms: 3_600_000, slots: 48 },
  "1d": { ms: 86_400_000, slots: 60 },
};
const state = {
  markets: [],
  interval: "1m",
  window: "all",
  refreshes: 0,
  boardDue: true, // read the board on the next refresh
  boardNotBefore: 0, // no board read before this instant (its own 429 or 503's Retry-After)
  goals: new Map(),
  shown: undefined, // the market on screen: without a #fragment it stays until the reader picks another
  timer: undefined,
  busy: false,
  again: false,
  live: undefined, // the status line's last state, so the live region speaks only when it changes
  notBefore: 0, // no refresh before this instant (a 429 or 503's Retry-After), shown or hidden
};
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
  const wanted = rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))];
  // only the rows that changed are replaced: an unchanged row keeps its nodes, so the link the
  // keyboard is on keeps the focus without a new focus event (a screen reader would read it again)
  const focused = body.contains(document.activeElement) ? document.activeElement.closest("tr") : null;
  let refocus;
  wanted.forEach((row, i) => {
    const old = body.children[i];
    if (old?.isEqualNode(row)) return;
    if (old) {
      if (old === focused) refocus = row.dataset.material;
      old.replaceWith(row);
    } else body.append(row);
  });
  while (body.children.length > wanted.length) body.lastElementChild.remove();
  if (refocus !== undefined) body.querySelector(`tr[data-material="${CSS.escape(refocus)}"] a`)?.focus();
}

/** The market named by the URL's #fragment; else the one already on screen; else the first that has
 * traded, else the first (a market trading elsewhere never takes the panel from the one being read). */
function selected() {
  const wanted = location.hash.slice(1);
  const listed = (material) => state.markets.find((m) => m.material === material);
  const chosen = listed(wanted) ?? listed(state.shown) ?? state.markets.find((m) => m.lastPrice !== null) ?? state.markets[0];
  state.shown = chosen?.material;
  return state.shown;
}

// -- the change over 24 hours --------------------------------------------------------------------

function change(marketView) {
  const delta = marketView.change24h;
  if (delta === null || delta === undefined) return { text: "—", className: "flat" };
  const before = (marketView.lastPrice ?? 0) - delta;
  const percent = before > 0 ? ` (${signedPercent((delta / before) * 100)} %)` : "";
  const text = `${delta > 0 ? "+" : ""}${number.format(delta)}${percent}`;
  return { text, className: delta > 0 ? "up" : delta < 0 ? "down" : "flat" };
}

/** One decimal (two under 0.05 %), a sign only on what is not zero once rounded: never "-0.0". */
function signedPercent(value) {
  const text = value.toFixed(Math.abs(value) >= 0.05 ? 1 : 2);
  if (Number(text) === 0) return "0.0";
  return value > 0 ? `+${text}` : text;
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
  // in the order they were posted (the feed posts a goal as it is scored), then by minute
  goals.sort((a, b) => a.postedAt.localeCompare(b.postedAt) || a.minute - b.minute);
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
  pressInterval();
}

function renderBoard(board) {
  const rows = board.standings.map((s) =>
    el(
      "tr",
      { "data-player": s.playerId },
      cell(s.rank, "num"),
      el("td", {}, el("span", { class: "player" }, s.playerId)),
      cell(coins(s.score), "num"),
      cell(coins(s.value), "num"),
    ),
  );
  fillBody("#leaderboard", rows, board.generatedAt ? "nobody holds anything yet" : "not rolled up yet");
  const since = board.since ? `gains since ${board.since.slice(0, 16).replace("T", " ")} UTC; ` : "";
  $("#leaderboard-note").textContent = board.generatedAt
    ? `${since}as of ${clock(board.generatedAt)} UTC`
    : "";
  pressWindow();
}

function pressWindow() {
  for (const button of document.querySelectorAll("#windows button")) {
    button.setAttribute("aria-pressed", String(button.dataset.window === state.window));
  }
}

/** The board of the chosen window, every BOARD_EVERY refreshes. A failed read is tried again on the
 * next refresh and says so under the board; it never turns the page offline (the market can go on). */
async function refreshBoard() {
  if (!state.boardDue && state.refreshes % BOARD_EVERY !== 1) return;
  if (Date.now() < state.boardNotBefore) return;
  const asked = state.window;
  try {
    const board = await getJson("leaderboard", { window: asked, limit: BOARD_SIZE });
    if (state.window !== asked) return; // another window was chosen meanwhile: it is read next
    renderBoard(board);
    state.boardDue = false;
  } catch (error) {
    state.boardDue = true;
    state.boardNotBefore = Date.now() + (error?.retryAfterMs ?? 0); // a 429 or 503 says when to ask again
    $("#leaderboard-note").textContent = `the leaderboard was not read: ${reasonOf(error)}`;
  }
}

function pressInterval() {
  for (const button of document.querySelectorAll("#intervals button")) {
    button.setAttribute("aria-pressed", String(button.dataset.interval === state.interval));
  }
}

// -- reading the exchange ------------------------------------------------------------------------

async function refreshMarket(material) {
  const { ms, slots } = INTERVALS[state.interval];
  const to = new Date(Math.ceil(Date.now() / ms) * ms);
  const from = new Date(to.getTime() - slots * ms);
  // each part is drawn when it comes: a refused candle range (422 range_too_large on a busy market's
  // long view) leaves the ticker, book and trades drawn, and says so where the chart would be
  const [view, book, trades, candles] = await Promise.allSettled([
    getJson(market(material)),
    getJson(`${market(material)}/book`, { depth: 10 }),
    getJson(`${market(material)}/trades`, { limit: 20 }),
    getJson(`${market(material)}/candles`, { interval: state.interval, from: from.toISOString(), to: to.toISOString() }),
  ]);
  if (view.status === "fulfilled") renderMarket(view.value);
  if (book.status === "fulfilled") renderBook(book.value);
  if (trades.status === "fulfilled") renderTrades(trades.value.trades);
  const refused = candles.status === "rejected" && candles.reason instanceof ApiError && candles.reason.status === 422;
  if (candles.status === "fulfilled") renderCandles(candles.value.candles, { from, intervalMs: ms, slots });
  else if (refused) {
    $("#chart").replaceChildren(el("p", { class: "chart-note" }, `no ${state.interval} candles: ${candles.reason.message}`));
    pressInterval();
  }
  const failed = [view, book, trades, refused ? null : candles].find((part) => part?.status === "rejected");
  if (failed) throw failed.reason;
}

async function refreshGoals(current) {
  // a scorer's goals when its applied count moves, a few a refresh; and the selected footballer's on
  // every refresh, so a goal posted but not applied yet shows as pending (it moves no count)
  // each read is recorded on its own, and one that failed waits behind those not tried yet, so one
  // failing list never holds up the others (nor turns the page offline: the timeline can wait)
  const tried = (m) => state.goals.get(m.material)?.tried ?? 0;
  const stale = state.markets
    .filter((m) => m.kind === "footballer" && m.goals > 0 && state.goals.get(m.material)?.count !== m.goals)
    .sort((a, b) => tried(a) - tried(b))
    .slice(0, GOAL_READS_PER_REFRESH);
  const shown = state.markets.find((m) => m.material === current && m.kind === "footballer");
  const reads = shown && !stale.includes(shown) ? [...stale, shown] : stale;
  const answers = await Promise.allSettled(reads.map((f) => getJson(`${market(f.material)}/goals`)));
  reads.forEach((f, i) => {
    const known = state.goals.get(f.material);
    const answer = answers[i];
    state.goals.set(
      f.material,
      answer.status === "fulfilled"
        ? { count: f.goals, goals: answer.value.goals, tried: Date.now() }
        : { count: known?.count, goals: known?.goals ?? [], tried: Date.now() },
    );
  });
  renderTimeline();
}

/** The status line is a live region: its text changes (and is announced) only when the page goes
 * live or offline, or the reason changes; the time of the last update is shown beside it, unspoken. */
function setStatus(text, offline) {
  const status = $("#status");
  if (state.live !== text) {
    status.textContent = text;
    state.live = text;
  }
  status.classList.toggle("offline", offline);
  $("#updated").textContent = offline ? "" : `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function reasonOf(error) {
  if (error instanceof ApiError) return error.message;
  if (error?.name === "TimeoutError") return "the exchange did not answer in time";
  return "the exchange is unreachable";
}

async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  clearTimeout(state.timer);
  let wait = POLL_MS;
  try {
    state.markets = await getJson("markets");
    const current = selected();
    renderMarkets(current);
    renderFootballers();
    state.refreshes += 1;
    await Promise.all([current ? refreshMarket(current) : null, refreshGoals(current), refreshBoard()]);
    setStatus("live", false);
  } catch (error) {
    setStatus(`${reasonOf(error)}; retrying`, true);
    wait = Math.max(POLL_MS, error?.retryAfterMs ?? 0); // 429 and 503 say when to ask again
  } finally {
    state.notBefore = Date.now() + wait;
    state.busy = false;
    // a hidden tab polls nothing (each poll is a function invocation when deployed); it refreshes
    // as soon as it is shown again
    if (!document.hidden) state.timer = setTimeout(refresh, state.again ? 0 : wait);
    state.again = false;
  }
}

document.addEventListener("visibilitychange", () => {
  clearTimeout(state.timer);
  if (!document.hidden) state.timer = setTimeout(refresh, Math.max(0, state.notBefore - Date.now()));
});
window.addEventListener("hashchange", refresh);
document.querySelector("#intervals").addEventListener("click", (event) => {
  const interval = event.target?.dataset?.interval;
  if (interval && interval in INTERVALS) {
    state.interval = interval;
    refresh();
  }
});
document.querySelector("#windows").addEventListener("click", (event) => {
  const chosen = event.target?.dataset?.window;
  if (chosen === "all" || chosen === "day" || chosen === "week") {
    state.window = chosen;
    state.boardDue = true;
    pressWindow();
    refresh();
  }
});
refresh();
