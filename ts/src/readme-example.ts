// The README's example of a game's own TypeScript, compiled (never run) with the client's test, so
// the snippet there stays true to the generated types.

import createClient from "openapi-fetch";

import type { paths } from "./generated/mercato.js";

export async function readmeExample(token: string, lastCursor: string | undefined): Promise<void> {
  const mercato = createClient<paths>({ baseUrl: "http://127.0.0.1:8080", headers: { Authorization: `Bearer ${token}` } });
  const { data, error, response } = await mercato.POST("/orders", {
    body: { type: "Buy", material: "wheat", quantity: 10, pricePerUnit: 12, clientOrderId: "buy-1" },
  });
  if (error) console.log(response.status, error.error.code); // e.g. 409 insufficient_balance
  else console.log(data.orderId, data.status);
  const fills = await mercato.GET("/fills", { params: { query: { after: lastCursor } } });
  console.log(fills.data?.fills.length);
}
