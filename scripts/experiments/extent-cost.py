#!/usr/bin/env python3
"""What a tenant's first/last-point statements cost the server, with and without a
time bound at the shard edges (docs/BENCHMARKS.md, "First and last points at the shard
edges"; docs/INFLUXDB-NOTES.md).

Usage: scripts/experiments/extent-cost.py [path to influxd, default: influxd on PATH]

Starts a private influxd (temp dir, free loopback ports), seeds 400 tenants x 8 of 60
measurements, a point every 6 h for 16 weeks in weekly shards (1,433,600 points, the
sparse bench shape), then sends 100 tenants' first- and last-point statements in one
request, three times per variant, printing the server's CPU (utime + stime from /proc)
and the wall time of each.
"""
import json, os, random, shutil, socket, subprocess, sys, tempfile, time
import urllib.parse, urllib.request

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

influxd = sys.argv[1] if len(sys.argv) > 1 else shutil.which("influxd")
if not influxd:
    sys.exit("influxd not found: apt-get install influxdb, or pass its path")
tmp = tempfile.mkdtemp(prefix="extent-cost-")
http, rpc = free_port(), free_port()
with open(f"{tmp}/influxd.conf", "w") as f:
    f.write(f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{tmp}/meta"
[data]
  dir = "{tmp}/data"
  wal-dir = "{tmp}/wal"
  cache-snapshot-write-cold-duration = "10s"
[http]
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
""")
proc = subprocess.Popen([influxd, "-config", f"{tmp}/influxd.conf"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
U = f"http://127.0.0.1:{http}"
try:
    def q(s, db="monasca"):
        d = urllib.parse.urlencode({"q": s, "db": db, "epoch": "ns"}).encode()
        return urllib.request.urlopen(U + "/query", d).read()
    for _ in range(100):
        try:
            urllib.request.urlopen(U + "/ping"); break
        except OSError:
            time.sleep(0.1)
    def cpu():
        f = open(f"/proc/{proc.pid}/stat").read().split(")")[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    q("CREATE DATABASE monasca WITH SHARD DURATION 7d", db="")
    W = 7 * 86400 * 10**9
    now = int(time.time()) // 3600 * 3600 * 10**9
    start = now - 16 * W
    buf = []
    def flush():
        if buf:
            urllib.request.urlopen(U + "/write?db=monasca", "\n".join(buf).encode()).read()
            buf.clear()
    for t in range(400):
        for i in range(8):
            m = (t * 4 + i) % 60
            for ts in range(start, now, 6 * 3600 * 10**9):
                buf.append(f'metric.{m:02d},_tenant_id=p{t:03d},hostname=h '
                           f'value={random.random()},value_meta="{{}}" {ts}')
                if len(buf) >= 50000:
                    flush()
    flush()
    time.sleep(20)  # the cache snapshots to TSM files, as on a server with history
    oldest_end, newest_start = (start // W + 1) * W, (now // W) * W
    def statements(variant):
        out = []
        for t in range(100):
            ms = ",".join(f'"monasca"."autogen"."metric.{(t * 4 + i) % 60:02d}"' for i in range(8))
            for last in (False, True):
                w = f"\"_tenant_id\"::tag = 'p{t:03d}'"
                if variant == "edges":
                    w += f" AND time >= {newest_start}" if last else f" AND time < {oldest_end}"
                sel = '"value"' if variant == "value" else "*"
                out.append(f"SELECT {sel} FROM {ms} WHERE {w} ORDER BY time "
                           f"{'DESC' if last else 'ASC'} LIMIT 1")
        return ";\n".join(out)
    q("SELECT count(value) FROM /.*/")
    for _ in range(3):
        for variant in ["every shard", "edges", "value"]:
            s = statements(variant)
            c, t = cpu(), time.time()
            r = q(s)
            print(f"{variant:12s} server CPU {cpu() - c:.2f} s  wall {time.time() - t:.2f} s  "
                  f"answer {len(r)} bytes")
finally:
    proc.terminate()
    proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
