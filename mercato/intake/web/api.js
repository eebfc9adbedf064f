// The exchange's public reads, by URLs relative to the page: the page works wherever intake serves it.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON resource; an answer other than 2xx becomes an ApiError with the API's error code. */
export async function getJson(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.code ?? "http_error", error.message ?? response.statusText);
  }
  return body;
}

export const market = (material) => `markets/${encodeURIComponent(material)}`;
