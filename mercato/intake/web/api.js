// The exchange's public reads, by URLs relative to the page: the page works wherever intake serves it.

/** How long one read may take before it counts as unanswered (a stalled connection, a stuck function). */
export const REQUEST_TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs = 0) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    /** What the answer's Retry-After asked for (429, 503), in ms; 0 when it asked nothing. */
    this.retryAfterMs = retryAfterMs;
  }
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/** GET a JSON resource; an answer other than 2xx becomes an ApiError with the API's error code, and
 * a read unanswered after REQUEST_TIMEOUT_MS is abandoned (fetch rejects with a TimeoutError). */
export async function getJson(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  const response = await fetch(url, {
    headers: { Accept: "application/json" },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? "http_error",
      error.message ?? response.statusText,
      retryAfterMs(response),
    );
  }
  return body;
}

export const market = (material) => `markets/${encodeURIComponent(material)}`;
