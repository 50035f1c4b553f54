"""Audit exporters: deliver every committed audit record to a security team's sink.

``records`` turns chained events into the exported JSON (the fields of ``bastion audit
export``, never content); ``base`` is the ``Sink`` interface and the lazy table of
built-in kinds; ``otlp``, ``webhook`` (webhook and Splunk HEC) and ``syslog`` are the
sinks; ``runner`` is the background loop with its durable cursor, lease and retries.
"""
