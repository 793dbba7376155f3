"""Durable alert notifications: a queue in PostgreSQL, delivered by webhook, MQTT and e-mail.

- ``config``: the ``[notifiers.<name>]`` tables and ``[notify]``;
- ``queue_sql``: enqueue (in the alert engine's transaction), claim, record outcomes;
- ``signing``: the webhook signature (``sign``/``verify``), pure;
- ``deliver``: one attempt per channel, outcomes as ``Delivered``/``Retry``/``Failed``;
- ``worker``: ``DeliveryWorker``, the asyncio service that drains the queue.
Nothing is imported here, so ``noisefleet_server.config`` can import ``notify.config``.
"""
