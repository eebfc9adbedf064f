"""One moto server with the default catalog prepared once, shared by the stacks of a test session
(the ``mercato`` fixture's moto engine). Its own module because moto costs a tenth of a second or
more to import, and the memory engine, the fixture's default, never needs it."""

import copy
import logging
import secrets
from dataclasses import dataclass, field

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from mercato.emulators import moto_atomic
from mercato.intake.auth import Scope, issue_token
from mercato.local.pipeline import LocalPipeline
from mercato.local.stack import LOOPBACK, REGION, TEMPLATE_PREFIX, list_catalog, quote_the_house, session
from mercato.pipes.definition import MATCHER_SOURCE, STREAM
from mercato.resources import BOOK, SUPPORT_TABLES, TABLES
from mercato.storage.tables import create_support_tables, create_tables


def moto_server() -> ThreadedMotoServer:
    """moto as a quiet server on a free loopback port, with Mercato's transaction path, started."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_atomic.install()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    return server


@dataclass
class SharedEngine:
    """One moto server and the default catalog prepared once (listed, the house quoted), for many
    stacks in one process: each :class:`EmbeddedStack` with ``shared=`` gets its own tables, filled
    with a copy of the prepared catalog, in a fraction of the time listing it again takes."""

    _moto: ThreadedMotoServer = field(init=False)
    session: boto3.Session = field(default_factory=lambda: session(), init=False)
    """One session for every stack on the engine: its clients share the loaded service models."""

    @property
    def moto_url(self) -> str:
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> "SharedEngine":
        self._moto = moto_server()
        self._prepare()
        return self

    def _prepare(self) -> None:
        """List the catalog on the template tables and let the house quote every footballer."""
        secret = secrets.token_urlsafe(32)
        pipeline = LocalPipeline.create(self.session, TEMPLATE_PREFIX, secret, endpoint_url=self.moto_url)
        list_catalog(pipeline, issue_token(secret, "mercato-admin", Scope.ADMIN), skip=set())
        quote_the_house(pipeline)

    def copy_catalog(self, prefix: str) -> bool:
        """Create ``prefix``'s tables holding the prepared catalog; True (the tables exist now).

        The prepared tables' items are copied inside moto's backend, which runs in this process
        (under the lock every DynamoDB request takes): writing them through the API instead costs
        seconds (moto sizes every attribute of every item it puts). Like a table restored from a
        backup, the copy makes no stream records, so nothing of the catalog reaches the new
        stack's pipe."""
        client = self.session.client("dynamodb", endpoint_url=self.moto_url)
        create_tables(client, prefix)
        create_support_tables(client, prefix)
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        if BOOK.name(TEMPLATE_PREFIX) not in backend.tables:
            self._prepare()  # something reset moto's backends (a test's ``mock_aws``): prepare again
        with moto_atomic.lock():
            for spec in (*TABLES, *SUPPORT_TABLES):
                prepared = backend.get_table(spec.name(TEMPLATE_PREFIX)).items
                backend.get_table(spec.name(prefix)).items = copy.deepcopy(prepared)
        return True

    def drop(self, prefix: str) -> None:
        """Delete ``prefix``'s tables, stream and queue (a test's stack is done with them)."""
        session = self.session
        client = session.client("dynamodb", endpoint_url=self.moto_url)
        for spec in (*TABLES, *SUPPORT_TABLES):
            client.delete_table(TableName=spec.name(prefix))
        session.client("kinesis", endpoint_url=self.moto_url).delete_stream(
            StreamName=STREAM.name(prefix), EnforceConsumerDeletion=True
        )
        sqs = session.client("sqs", endpoint_url=self.moto_url)
        sqs.delete_queue(
            QueueUrl=sqs.get_queue_url(QueueName=f"{prefix}-{MATCHER_SOURCE.on_failure_queue}")["QueueUrl"]
        )

    def stop(self) -> None:
        self._moto.stop()

    def __enter__(self) -> "SharedEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
