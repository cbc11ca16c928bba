"""A Celery app on Warren: AMQP broker, results over the RPC backend (direct reply-to).

    celery -A tasks worker --loglevel=info        # in this directory
    python3 client.py                             # in another terminal

BROKER_URL overrides the broker (default amqp://guest:guest@127.0.0.1:5672//).
Unchanged, this runs against RabbitMQ too.
"""
import os

from celery import Celery

app = Celery(
    "tasks",
    broker=os.environ.get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    backend="rpc://",
)
app.conf.broker_connection_retry_on_startup = True


@app.task
def add(x, y):
    return x + y


@app.task(bind=True, max_retries=3)
def flaky(self, n):
    """Fails twice, then succeeds: retried with a countdown each time."""
    if self.request.retries < 2:
        raise self.retry(countdown=0.2)
    return n * 10
