"""Writes Monasca messages into InfluxDB with monasca-persister's own repositories.

The tests' stand-in for a running persister: stdin is a JSON list of messages as Kafka
carries them (a metric message has "metric" and "meta", an alarm state transition has
"alarm-transitioned"); each goes through MetricInfluxdbRepository or
AlarmStateHistInfluxdbRepository (process_message, then write_batch), configured through
oslo.config the way persister.conf's [influxdb] section is. Prints a JSON object with the
number of messages written per repository.

Run with the python of the venv scripts/old-tool-venv builds (monasca-persister 9.0.0).
"""

import argparse
import json
import sys
import urllib.parse

from oslo_config import cfg

from monasca_persister.conf import influxdb as influxdb_conf
from monasca_persister.repositories.influxdb import alarm_state_history_repository
from monasca_persister.repositories.influxdb import metrics_repository


class KafkaMessage(object):
    """What the persister's parsers read: an object whose value() is the raw payload."""

    def __init__(self, payload):
        self._payload = json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def value(self):
        return self._payload


def configure(args):
    url = urllib.parse.urlsplit(args.url)
    influxdb_conf.register_opts(cfg.CONF)
    cfg.CONF(args=[], project="monasca-persister", default_config_files=[])
    overrides = {
        "ip_address": url.hostname,
        "port": url.port or 8086,
        "ssl": url.scheme == "https",
        "user": args.user,
        "password": args.password,
        "database_name": args.database,
        "db_per_tenant": args.db_per_tenant,
        "default_retention_hours": args.default_retention_hours,
        "batch_size": args.batch_size,
    }
    for key, value in overrides.items():
        cfg.CONF.set_override(key, value, group="influxdb")


def persist(repository, messages):
    # The persister's own batching: one data_points object per flush, keyed by tenant
    # when db_per_tenant is on (persister.py does the same append).
    data_points = repository.data_points_class()
    for message in messages:
        line, tenant_id = repository.process_message(KafkaMessage(message))
        data_points.append(tenant_id, line)
    if data_points:
        repository.write_batch(data_points)
    return len(messages)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--database", default="monasca")
    parser.add_argument("--db-per-tenant", choices=["true", "false"], default="false")
    parser.add_argument("--default-retention-hours", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=10000)
    args = parser.parse_args()
    args.db_per_tenant = args.db_per_tenant == "true"
    configure(args)

    messages = json.load(sys.stdin)
    metrics = [m for m in messages if "metric" in m]
    alarms = [m for m in messages if "alarm-transitioned" in m]
    unknown = len(messages) - len(metrics) - len(alarms)
    if unknown:
        sys.exit("write.py: %d messages are neither metrics nor alarm transitions" % unknown)
    written = {"metrics": 0, "alarm_state_history": 0}
    if metrics:
        written["metrics"] = persist(metrics_repository.MetricInfluxdbRepository(), metrics)
    if alarms:
        written["alarm_state_history"] = persist(
            alarm_state_history_repository.AlarmStateHistInfluxdbRepository(), alarms)
    json.dump(written, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
