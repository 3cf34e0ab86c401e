"""Reads Monasca data with monasca-api's own InfluxDB repository.

The tests' stand-in for a running monasca-api: stdin is a JSON object
{"tenants": [...], "region": ..., "metric": ..., "dimensions": {...}, "alarm_ids": [...]};
for each tenant it calls MetricsRepository.measurement_list (merged, every time) and
MetricsRepository.alarm_history, configured through oslo.config the way api.conf's
[influxdb] section is. Prints a JSON object: per tenant, the measurement timestamps and
the alarm history timestamps, as the API returns them.

Run with the python of the venv scripts/old-tool-venv builds (monasca-api 11.0.0).
"""

import argparse
import importlib.util
import json
import os
import sys
import urllib.parse

from oslo_config import cfg

import monasca_api
from monasca_api.common.repositories.influxdb import metrics_repository


def load_influxdb_conf():
    """monasca-api's own [influxdb] options (monasca_api/conf/influxdb.py), loaded
    without the package monasca_api.conf, whose __init__ imports every backend's
    options (oslo.db, keystone, ...) that reading InfluxDB does not need."""
    path = os.path.join(os.path.dirname(monasca_api.__file__), "conf", "influxdb.py")
    spec = importlib.util.spec_from_file_location("monasca_api_conf_influxdb", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def configure(args):
    url = urllib.parse.urlsplit(args.url)
    load_influxdb_conf().register_opts(cfg.CONF)
    overrides = {
        "ip_address": url.hostname,
        "port": url.port or 8086,
        "user": args.user,
        "password": args.password,
        "database_name": args.database,
        "db_per_tenant": args.db_per_tenant,
    }
    for key, value in overrides.items():
        cfg.CONF.set_override(key, value, group="influxdb")
    # Parsed after the overrides: `user` is a required option.
    cfg.CONF(args=[], project="monasca-api", default_config_files=[])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--database", default="monasca")
    p.add_argument("--db-per-tenant", type=lambda v: v == "true", default=False)
    args = p.parse_args()
    configure(args)
    request = json.load(sys.stdin)
    repo = metrics_repository.MetricsRepository()
    out = {}
    for tenant in request["tenants"]:
        series = repo.measurement_list(
            tenant, request["region"], request["metric"], request["dimensions"],
            0, None, None, 100000, True, None)
        history = repo.alarm_history(tenant, request["alarm_ids"], None, 100000)
        out[tenant] = {
            "measurements": [m[0] for s in series for m in s["measurements"]],
            "alarms": [h["timestamp"] for h in history],
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
