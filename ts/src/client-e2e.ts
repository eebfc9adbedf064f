// The generated client against a running Mercato: deposit, place a sell and a buy, handle two 409s,
// and read the fills by cursor. Prints one JSON object with what it saw; exits 1 on any surprise.
//
// src/generated/mercato.ts is written at test time by openapi-typescript from the stack's own
// /openapi.json, so this file compiles only if the document describes what it uses.

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/mercato.js";

type Order = components["schemas"]["Order"];
type FillsPage = components["schemas"]["FillsPage"];
type Client = ReturnType<typeof client>;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const baseUrl = env("MERCATO_URL");
const client = (token: string) => createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
const admin = client(env("MERCATO_ADMIN_TOKEN"));
const seller = client(env("MERCATO_SELLER_TOKEN"));
const buyer = client(env("MERCATO_BUYER_TOKEN"));
const pauper = client(env("MERCATO_PAUPER_TOKEN"));
const material = "wheat";

async function deposit(playerId: string, asset: string, quantity: number, depositId: string): Promise<void> {
  const { error, response } = await admin.POST("/accounts/{player_id}/deposits", {
    params: { path: { player_id: playerId } },
    body: { depositId, asset, quantity },
  });
  if (error) throw new Error(`deposit answered ${response.status}: ${JSON.stringify(error)}`);
}

/** The error code of a request that must fail with `status`. */
function refusal(response: Response, error: unknown, status: number): string {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}`);
  const body = error as { error?: { code?: string } } | undefined;
  const code = body?.error?.code;
  if (typeof code !== "string") throw new Error(`a ${status} without the error shape: ${JSON.stringify(error)}`);
  return code;
}

/** The player's fills after `after`, waiting up to 20 s for the first one. */
async function fills(player: Client, after: string, wait: boolean): Promise<FillsPage> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { data, error, response } = await player.GET("/fills", { params: { query: { after } } });
    if (error) throw new Error(`GET /fills answered ${response.status}: ${JSON.stringify(error)}`);
    if (data.fills.length > 0 || !wait || Date.now() > deadline) return data;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function order(player: Client, orderId: string): Promise<Order> {
  const { data, error, response } = await player.GET("/orders/{order_id}", { params: { path: { order_id: orderId } } });
  if (error) throw new Error(`GET /orders/${orderId} answered ${response.status}`);
  return data;
}

const stamp = Date.now().toString(36);
await deposit(env("MERCATO_SELLER"), material, 10, `ts-${stamp}-wheat`);
await deposit(env("MERCATO_BUYER"), "coins", 1_000, `ts-${stamp}-coins`);

const sell = await seller.POST("/orders", { body: { type: "Sell", material, quantity: 5, pricePerUnit: 30 } });
if (sell.response.status !== 202 || !sell.data) throw new Error(`sell answered ${sell.response.status}`);

const clientOrderId = `ts-buy-${stamp}`;
const buy = await buyer.POST("/orders", {
  body: { type: "Buy", material, quantity: 5, pricePerUnit: 30, clientOrderId },
});
if (buy.response.status !== 202 || !buy.data) throw new Error(`buy answered ${buy.response.status}`);

const again = await buyer.POST("/orders", {
  body: { type: "Buy", material, quantity: 5, pricePerUnit: 30, clientOrderId },
});
const reused = await buyer.POST("/orders", {
  body: { type: "Buy", material, quantity: 6, pricePerUnit: 30, clientOrderId },
});
const broke = await pauper.POST("/orders", { body: { type: "Buy", material, quantity: 1, pricePerUnit: 30 } });

const bought = await fills(buyer, "0", true);
const nothingNew = await fills(buyer, bought.cursor, false);
const sold = await fills(seller, "0", true);
const filled = await order(buyer, buy.data.orderId);
const fill = (f: FillsPage["fills"][number]) => ({
  orderId: f.orderId,
  side: f.side,
  price: f.price,
  quantity: f.quantity,
  fee: f.fee,
});
console.log(
  JSON.stringify({
    sell: { status: sell.response.status, orderId: sell.data.orderId },
    buy: { status: buy.response.status, orderId: buy.data.orderId },
    resend: { status: again.response.status, orderId: again.data?.orderId },
    reusedClientOrderId: { status: reused.response.status, code: refusal(reused.response, reused.error, 409) },
    insufficientBalance: { status: broke.response.status, code: refusal(broke.response, broke.error, 409) },
    buyerFills: bought.fills.map(fill),
    afterCursor: { fills: nothingNew.fills.length, sameCursor: nothingNew.cursor === bought.cursor },
    sellerFills: sold.fills.map(fill),
    filled: { status: filled.status, filledQuantity: filled.filledQuantity, filledNotional: filled.filledNotional },
  }),
);
