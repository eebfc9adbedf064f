"""The client processes of ``mercato bench stack``: the standard library only, so a spawned client
starts in a fraction of a second and none of its start-up falls inside the measured time."""

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    url: str
    seller_token: str
    buyer_token: str
    material: str
    pairs: int
    quantity: int
    price: int
    interval_s: float
    """Seconds between two orders of this client; 0 sends as fast as the stack answers."""
    offset_s: float
    """How long after the start this client's first order goes out (paced clients take turns)."""


def client_process(number: int, job: Job, ready: Any, go: Any, results: Any) -> None:
    """Connect, say so on ``ready``, wait for ``go``, then place ``job.pairs`` crossing pairs (a
    sell, then a buy at its price) over one keep-alive connection; put the order ids on ``results``."""
    host, port = job.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.connect()
    ready.put(number)
    go.wait()
    due = time.time() + job.offset_s
    time.sleep(job.offset_s)
    placed: list[tuple[str, str]] = []
    for _ in range(job.pairs):
        pair = []
        for side, token in (("Sell", job.seller_token), ("Buy", job.buyer_token)):
            if job.interval_s:
                time.sleep(max(0.0, due - time.time()))
                due += job.interval_s
            body = {
                "type": side,
                "material": job.material,
                "quantity": job.quantity,
                "pricePerUnit": job.price,
            }
            connection.request(
                "POST",
                "/orders",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 202:
                raise RuntimeError(f"order refused: {response.status} {answer}")
            pair.append(answer["orderId"])
        placed.append((pair[0], pair[1]))
    connection.close()
    results.put((number, placed))
