// A candle chart drawn as plain SVG: one slot per interval across the window, so gaps stay visible.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 720;
const HEIGHT = 260;
const PAD = { left: 8, right: 64, top: 10, bottom: 22 };
const VOLUME_SHARE = 0.2; // of the plot's height, under the prices

function node(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

const hhmm = (date) => date.toISOString().slice(11, 16);
const day = (date) => date.toISOString().slice(0, 10);

/**
 * An <svg> of `candles` ({start, open, high, low, close, volume}, oldest first) over the window
 * [from, from + slots × intervalMs).
 */
export function candleChart(candles, { from, intervalMs, slots }) {
  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "candles" });
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const priceHeight = plotHeight * (1 - VOLUME_SHARE) - 6;
  const slotWidth = plotWidth / slots;
  svg.append(node("rect", { x: PAD.left, y: PAD.top, width: plotWidth, height: plotHeight, class: "frame" }));
  const label = (x, text) => node("text", { x, y: HEIGHT - 6, class: "axis", "text-anchor": "middle" }, text);
  const first = new Date(from);
  const last = new Date(from.getTime() + slots * intervalMs);
  const timeLabel = intervalMs >= 86_400_000 ? day : hhmm;
  svg.append(label(PAD.left + 24, timeLabel(first)), label(PAD.left + plotWidth - 24, timeLabel(last)));
  if (candles.length === 0) {
    svg.setAttribute("aria-label", "no trades in this window");
    svg.append(node("text", { x: PAD.left + plotWidth / 2, y: PAD.top + plotHeight / 2, class: "empty", "text-anchor": "middle" }, "no trades in this window"));
    return svg;
  }
  const high = Math.max(...candles.map((c) => c.high));
  const low = Math.min(...candles.map((c) => c.low));
  const span = Math.max(high - low, 1);
  const y = (price) => PAD.top + 3 + ((high - price) / span) * (priceHeight - 6);
  const maxVolume = Math.max(...candles.map((c) => c.volume), 1);
  const volumeBase = PAD.top + plotHeight;
  for (const [price, text] of [[high, high], [low, low]]) {
    svg.append(node("text", { x: WIDTH - PAD.right + 6, y: y(price) + 4, class: "axis" }, text.toLocaleString("en-US")));
  }
  for (const candle of candles) {
    const slot = Math.floor((Date.parse(candle.start) - from.getTime()) / intervalMs);
    if (slot < 0 || slot >= slots) continue;
    const centre = PAD.left + (slot + 0.5) * slotWidth;
    const rising = candle.close >= candle.open;
    const group = node("g", { class: rising ? "up" : "down" });
    group.append(node("title", {}, `${candle.start}  O ${candle.open}  H ${candle.high}  L ${candle.low}  C ${candle.close}  V ${candle.volume}`));
    group.append(node("line", { x1: centre, x2: centre, y1: y(candle.high), y2: y(candle.low), class: "wick" }));
    const top = y(Math.max(candle.open, candle.close));
    const bodyHeight = Math.max(y(Math.min(candle.open, candle.close)) - top, 1);
    const bodyWidth = Math.max(slotWidth * 0.7, 1);
    group.append(node("rect", { x: centre - bodyWidth / 2, y: top, width: bodyWidth, height: bodyHeight, class: "body" }));
    const volumeHeight = (candle.volume / maxVolume) * plotHeight * VOLUME_SHARE;
    group.append(node("rect", { x: centre - bodyWidth / 2, y: volumeBase - volumeHeight, width: bodyWidth, height: volumeHeight, class: "volume" }));
    svg.append(group);
  }
  svg.setAttribute("aria-label", `${candles.length} candles from ${low} to ${high}`);
  return svg;
}
