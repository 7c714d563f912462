#!/usr/bin/env python3
"""The benchmark harness (run through scripts/bench.sh): every figure next to the machine's own
limit, measured in the same run. See BENCHMARKS.md for what each id means and the results.

Each benchmark starts what it needs (a private Mosquitto on a free port, the engine, the
simulator) and stops it again. Results print as a table and are written as JSON.

  scripts/bench.sh                      # the full run (about an hour on 2 cores, B7 is 30 min)
  scripts/bench.sh --smoke              # a minute and a half, small volumes: checks the harness works
  scripts/bench.sh --only b1a,b3 --events 3000000
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Journal bytes per simulated event on disk, ids and WAL included (B3 measures 106 B since the
# journal keeps a commit's events in one compressed block): with room to spare, for B7's disk
# check.
JOURNAL_BYTES_PER_EVENT = 160


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def metric_lines(port):
    """The lines of the engine's /metrics, none when it cannot be read."""
    try:
        return http_get(f"http://127.0.0.1:{port}/metrics").splitlines()
    except OSError:
        return []


def metric(port, name):
    """The value of one unlabelled metric of the engine's /metrics, or None."""
    for line in metric_lines(port):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def commit_buckets(port):
    """The journal's commit-latency histogram from /metrics: [(upper bound s, cumulative)]."""
    buckets = []
    for line in metric_lines(port):
        if line.startswith('ioc_journal_commit_seconds_bucket{le="'):
            bound = line.split('"')[1]
            buckets.append((float("inf") if bound == "+Inf" else float(bound),
                            int(float(line.split()[1]))))
    return buckets


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def snapshot_times(log_path):
    """How long each analytics snapshot took (ms), from the engine's log (info is its default
    level). A stalled analytics worker is the first suspect when the broker drops."""
    times = []
    with open(log_path, errors="replace") as log:
        for line in log:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if "analytics snapshot written" in line and "elapsed_ms=" in line:
                times.append(int(line.split("elapsed_ms=")[1].split()[0]))
    return times


def raise_open_files():
    """Lifts this process's soft limit of open files to the hard one; every child inherits it.
    B6 holds thousands of websockets, one descriptor each in the engine and in the client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit cannot be the soft one (the kernel's nr_open caps it).
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def settle(count, target):
    """Polls `count()` until it equals `target` or stops moving for 2 s; the last value."""
    counted, still = count(), 0
    while still < 4 and counted != target:
        time.sleep(0.5)
        now = count()
        still = still + 1 if now == counted else 0
        counted = now
    return counted


class Broker:
    """A private Mosquitto for one benchmark; `unlimited` keeps a whole backlog queued."""

    def __init__(self, workdir, unlimited):
        self.port = free_port()
        conf = os.path.join(workdir, f"mosquitto-{self.port}.conf")
        # `sys_interval 1`: the broker's own counters under `$SYS` are fresh within a second.
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false",
                 "sys_interval 1"]
        if unlimited:
            lines += ["max_queued_messages 0", "max_queued_bytes 0"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            ["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)

    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def dropped(self):
        """Messages the broker has thrown away because a client's queue was full (its
        `$SYS/broker/publish/messages/dropped`), or None if the broker could not be read.
        Mosquitto does not always publish that counter while it is 0, so its absence next to the
        `received` counter (published every `sys_interval`) means none."""
        sys_topics = "$SYS/broker/publish/messages/"
        try:
            out = subprocess.run(
                ["mosquitto_sub", "-p", str(self.port), "-v", "-W", "3",
                 "-t", sys_topics + "dropped", "-t", sys_topics + "received"],
                capture_output=True, text=True, timeout=10).stdout
        except subprocess.SubprocessError:
            return None
        counters = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        if sys_topics + "received" not in counters:
            return None
        return int(counters.get(sys_topics + "dropped", "0"))

    def stop(self):
        self.process.terminate()
        self.process.wait()


class Engine:
    """`ioc serve` against a broker, on its own data dir and HTTP port."""

    def __init__(self, binary, broker_url, data_dir, root, client_id=None, extra=(), env=None):
        self.port = free_port()
        self.data_dir = data_dir
        args = [
            binary, "serve", "--mqtt", broker_url, "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", data_dir, "--topic-root", root,
        ]
        if client_id:
            args += ["--mqtt-client-id", client_id]
        self.log = open(os.path.join(data_dir + ".log"), "ab")
        self.started = time.time()
        self.process = subprocess.Popen(
            list(args) + list(extra), stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})),
        )

    def wait_ready(self, seconds=600):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                return time.time() - self.started
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"engine exited; see {self.data_dir}.log")
                time.sleep(0.02)
        raise RuntimeError("engine not ready in time")

    def events(self):
        return metric(self.port, "ioc_events_total")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


class Harness:
    def __init__(self, args):
        self.args = args
        profile = "release" if args.release else "debug"
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        self.bin_dir = os.path.join(target, profile)
        self.ioc = os.path.join(self.bin_dir, "ioc")
        self.work = tempfile.mkdtemp(prefix="ioc-bench-")
        self.results = []
        # B1b's highest rate with nothing lost, when it ran: B7 soaks at 80 % of it.
        self.best_live_rate = None
        raise_open_files()

    def example(self, name):
        return os.path.join(self.bin_dir, "examples", name)

    def record(self, bench, what, value, unit, target="", note=""):
        self.results.append(
            {"id": bench, "what": what, "value": value, "unit": unit, "target": target, "note": note}
        )
        print(f"  {bench:<5} {what:<58} {value:>12} {unit:<10} {target}", flush=True)

    def token(self, data_dir, role="viewer"):
        """An access token signed with the secret of the engine on `data_dir`."""
        return subprocess.run(
            [self.ioc, "token", "--role", role, "--data-dir", data_dir],
            capture_output=True, text=True, check=True).stdout.strip()

    def sim(self, broker_url, root, events, rate, qos=1, seed=1, extra=()):
        args = [
            self.ioc, "sim", "--mqtt", broker_url, "--topic-root", root, "--rate", str(rate),
            "--duration", "10h", "--max-events", str(events), "--qos", str(qos),
            "--seed", str(seed), "--quiet",
        ] + list(extra)
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    # B1b: live. `ioc sim` publishes at a fixed rate to a Mosquitto with its default queue
    # (max_queued_messages 1000), the engine and a bare subscriber both subscribed; the highest
    # rate at which the engine counts every event the broker acknowledged to the simulator.
    def b1b(self, seconds, rates):
        best = 0
        for rate in rates:
            events = int(rate * seconds)
            broker = Broker(self.work, unlimited=False)
            root = f"b1b{rate}"
            try:
                engine = Engine(self.ioc, broker.url(), os.path.join(self.work, root), root)
                engine.wait_ready()
                # To a file, read afterwards: a pipe nobody reads would stall the subscriber.
                bare_out = open(os.path.join(self.work, f"{root}.bare"), "w+b")
                bare = subprocess.Popen(
                    ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                     "-t", f"{root}/#", "-C", str(events)],
                    stdout=bare_out, stderr=subprocess.DEVNULL)
                time.sleep(0.5)  # both subscribed before the first publish
                sent = self.sim(broker.url(), root, events, rate)
                acked = sent["sent"] - sent["unacknowledged"]
                counted = settle(lambda: int(engine.events() or 0), acked)
                try:
                    bare.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    bare.kill()
                    bare.wait()
                bare_out.seek(0)
                received = bare_out.read().count(b"\n")
                bare_out.close()
                engine.stop()
            finally:
                broker.stop()
            lost = acked - counted
            self.record("B1b", f"offered {sent['rate']:,.0f}/s: acknowledged by the broker", acked,
                        "events")
            self.record("B1b", f"offered {sent['rate']:,.0f}/s: engine lost of acknowledged",
                        lost, "events", "0", f"{acked} acknowledged, {counted} counted")
            self.record("B1b", f"offered {sent['rate']:,.0f}/s: bare subscriber lost", acked - received,
                        "events", "", f"received {received}")
            if lost == 0:
                best = max(best, round(sent["rate"]))
        self.record("B1b", "highest offered rate with nothing lost", best, "events/s")
        self.best_live_rate = best or None

    # B4: alert latency under load. The simulator publishes at `rate` while the
    # `alert_latency` example sends probe readings that each trip a rule and times each until
    # its `alert` frame arrives on the websocket.
    def b4(self, rate, probes):
        broker = Broker(self.work, unlimited=False)
        root = "b4"
        sim = None
        try:
            data = os.path.join(self.work, "b4")
            rules = os.path.join(ROOT, "tests", "examples", "alert_latency_rules.toml")
            engine = Engine(self.ioc, broker.url(), data, root, extra=["--rules", rules])
            engine.wait_ready()
            token = subprocess.run(
                [self.ioc, "token", "--role", "viewer", "--data-dir", data],
                capture_output=True, text=True, check=True).stdout.strip()
            sim = subprocess.Popen(
                [self.ioc, "sim", "--mqtt", broker.url(), "--topic-root", root, "--rate",
                 str(rate), "--duration", "10h", "--qos", "1", "--seed", "4", "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2)  # the load is on before the first probe
            out = subprocess.run(
                [self.example("alert_latency"), f"http://127.0.0.1:{engine.port}", token,
                 f"127.0.0.1:{broker.port}", root, str(probes)],
                capture_output=True, text=True, check=True, timeout=600).stdout
            engine.stop()
        finally:
            if sim is not None:
                sim.kill()
                sim.wait()
            broker.stop()
        # "probes=N p50=…ms p90=…ms p99=…ms max=…ms"
        fields = dict(part.split("=") for part in out.split())
        self.record("B4", f"alert latency probes under {rate:,}/s of load", int(fields["probes"]),
                    "probes")
        for name, target in [("p50", ""), ("p99", "<= 50"), ("max", "")]:
            self.record("B4", f"publish -> alert frame, {name}",
                        float(fields[name].removesuffix("ms")), "ms", target)

    # B6: websocket fan-out. `clients` websockets (the `ws_fanout` example) subscribe to the
    # overview at a 500 ms tick while the simulator changes it at every tick; every client must
    # get every tick of the measured interval, for at most one core of engine CPU.
    def b6(self, clients, seconds, load):
        tick_ms = 500
        broker = Broker(self.work, unlimited=False)
        root = "b6"
        engine = sim = fanout = None
        try:
            data = os.path.join(self.work, "b6")
            # The connection cap (default 1024) is raised to the clients asked for: the flag's
            # path through the configuration is part of what is measured.
            engine = Engine(self.ioc, broker.url(), data, root, env={"IOC_TICK": f"{tick_ms}ms"},
                            extra=["--ws-max-connections", str(clients + 16)])
            engine.wait_ready()
            token = self.token(data)
            sim = subprocess.Popen(
                [self.ioc, "sim", "--mqtt", broker.url(), "--topic-root", root, "--rate",
                 str(load), "--duration", "10h", "--qos", "1", "--seed", "6", "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # events flow before the first client subscribes
            errors = open(os.path.join(self.work, "b6.fanout.log"), "w+")
            fanout = subprocess.Popen(
                [self.example("ws_fanout"), f"http://127.0.0.1:{engine.port}", token,
                 str(clients), str(seconds), str(tick_ms)],
                stdout=subprocess.PIPE, stderr=errors, text=True)
            pid = engine.process.pid
            # The example says when its measured interval begins and ends: the engine's CPU
            # is read at those two moments.
            marks = {}
            result = None
            for line in fanout.stdout:
                message = json.loads(line)
                phase = message.get("phase")
                if phase in ("measuring", "measured"):
                    marks[phase] = (cpu_seconds(pid), time.time())
                else:
                    result = message
            if fanout.wait() != 0 or result is None or len(marks) != 2:
                errors.seek(0)
                raise RuntimeError(f"ws_fanout failed: {errors.read()[-2000:]}")
            errors.close()
            engine.stop()
        finally:
            for process in (fanout, sim):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            if engine is not None and engine.process.poll() is None:
                engine.kill()
            broker.stop()
        (cpu0, t0), (cpu1, t1) = marks["measuring"], marks["measured"]
        cores = (cpu1 - cpu0) / (t1 - t0)
        expected = result["ticks_expected"]
        self.record("B6", f"websocket clients connected of {clients:,}", result["connected"],
                    "clients", f"= {clients}",
                    f"refused {result['refused']} (503), failed {result['failed']}")
        self.record("B6", "clients refused with 503 (connection cap)", result["refused"],
                    "clients", "0")
        self.record("B6", f"ticks in the {result['seconds']:.0f} s interval", expected, "ticks",
                    "", f"{result['ticks_by_clock']:.1f} by the clock")
        self.record("B6", "fewest ticks a client received", result["ticks_min"], "ticks",
                    f"= {expected}", f"most {result['ticks_max']}")
        self.record("B6", "clients that missed a tick", result["clients_missing_a_tick"],
                    "clients", "0", f"{result['ticks_missed']} ticks missed in all")
        self.record("B6", "gaps in seq", result["seq_gaps"], "gaps", "0")
        self.record("B6", "slow-client resets", result["resets"], "resets", "0")
        self.record("B6", "connections dropped", result["dropped"], "clients", "0")
        self.record("B6", "frames per client in the interval, fewest", result["frames_min"],
                    "frames", "", f"most {result['frames_max']}")
        self.record("B6", "updates in the interval without events_total",
                    result["updates_without_events_total"], "updates", "0")
        self.record("B6", "longest pause between two ticks",
                    round(result["longest_pause_between_ticks_ms"]), "ms", f"~{tick_ms}")
        self.record("B6", f"engine CPU, {result['connected']:,} clients, {load:,} events/s",
                    round(cores, 3), "cores", "<= 1")

    # B10: Open311 under load, then durability. The `open311_load` example posts from many
    # clients at once and keeps every 201's id; the engine is killed with SIGKILL, restarted on
    # the same data directory, and every acknowledged report is read back.
    def b10(self, posts, clients):
        broker = Broker(self.work, unlimited=False)
        root = "b10"
        key = "bench-b10"
        # One address posts everything here, so both rate limits are lifted far above the run.
        env = {"IOC_OPEN311_API_KEYS": key, "IOC_OPEN311_RATE_PER_KEY_PER_MIN": "100000000",
               "IOC_OPEN311_RATE_PER_IP_PER_MIN": "100000000"}
        ids = os.path.join(self.work, "b10.ids")
        engine = None
        try:
            data = os.path.join(self.work, "b10")
            engine = Engine(self.ioc, broker.url(), data, root, env=env)
            engine.wait_ready()
            out = subprocess.run(
                [self.example("open311_load"), "post", f"http://127.0.0.1:{engine.port}", key,
                 str(posts), str(clients), ids],
                capture_output=True, text=True, check=True, timeout=3600).stdout
            posted = json.loads(out.strip().splitlines()[-1])
            engine.kill()
            engine = Engine(self.ioc, broker.url(), data, root, env=env)
            ready = engine.wait_ready()
            out = subprocess.run(
                [self.example("open311_load"), "read", f"http://127.0.0.1:{engine.port}", ids,
                 str(clients)],
                capture_output=True, text=True, check=True, timeout=3600).stdout
            read = json.loads(out.strip().splitlines()[-1])
            engine.stop()
        finally:
            if engine is not None and engine.process.poll() is None:
                engine.kill()
            broker.stop()
        created = posted["created"]
        statuses = ", ".join(f"{k}: {v}" for k, v in posted["by_status"].items())
        self.record("B10", f"POSTs answered 201 of {posts:,} from {clients} clients", created,
                    "reports", f"= {posts}", statuses)
        self.record("B10", "reports accepted per second", round(posted["per_sec"]), "reports/s",
                    ">= 5000")
        for name in ("p50", "p99", "max"):
            self.record("B10", f"POST -> 201 latency, {name}", round(posted[f"{name}_ms"], 1),
                        "ms")
        self.record("B10", "restart after kill -9: ready after", round(ready, 2), "s")
        self.record("B10", "acknowledged reports readable after kill -9", read["readable"],
                    "reports", f"= {created}", f"{read['distinct_ids']} distinct ids")
        self.record("B10", "acknowledged but not readable", created - read["readable"], "reports",
                    "0")

    # B7: soak. The simulator publishes at a steady rate into a Mosquitto with its default
    # queue for `seconds`; the engine's RSS is sampled as it goes. Memory must stay under
    # 512 MB and level off, and nothing the broker acknowledged may be lost.
    def b7(self, seconds, rate, every):
        root = "b7"
        events = int(rate * seconds)
        # The journal keeps every event (compaction moves only what is older than 48 h): 30
        # minutes at 32,000/s is about 6 GB. A full disk would stop every other process on the
        # machine too, so refuse before starting.
        needed = events * JOURNAL_BYTES_PER_EVENT + (1 << 30)
        free = shutil.disk_usage(self.work).free
        if free < needed:
            raise RuntimeError(
                f"B7 needs about {needed / 1e9:.1f} GB free for the journal of {events:,} events "
                f"in {self.work}; {free / 1e9:.1f} GB are free (set TMPDIR to a larger disk, or "
                f"lower --soak-minutes or --soak-rate)")
        broker = Broker(self.work, unlimited=False)
        engine = sim = None
        try:
            data = os.path.join(self.work, "b7")
            engine = Engine(self.ioc, broker.url(), data, root)
            engine.wait_ready()
            pid = engine.process.pid
            sim = subprocess.Popen(
                [self.ioc, "sim", "--mqtt", broker.url(), "--topic-root", root, "--rate",
                 str(rate), "--duration", "10h", "--max-events", str(events), "--qos", "1",
                 "--seed", "7", "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            began = time.time()
            samples = [(0.0, rss_mb(pid))]
            while sim.poll() is None:
                # Wakes often enough to notice the end; samples every `every` seconds.
                time.sleep(min(1.0, every))
                elapsed = time.time() - began
                if elapsed - samples[-1][0] >= every:
                    samples.append((elapsed, rss_mb(pid)))
                if engine.process.poll() is not None:
                    raise RuntimeError(f"engine exited during the soak; see {data}.log")
            sent = json.loads(sim.communicate()[0].strip().splitlines()[-1])
            sim = None
            acked = sent["sent"] - sent["unacknowledged"]
            counted = int(settle(lambda: int(engine.events() or 0), acked))
            samples.append((time.time() - began, rss_mb(pid)))
            dropped = broker.dropped()
            commits = commit_buckets(engine.port)
            engine.stop()
            snapshots = snapshot_times(data + ".log")
        finally:
            if sim is not None:
                sim.kill()
                sim.wait()
            if engine is not None and engine.process.poll() is None:
                engine.kill()
            broker.stop()
        lasted = samples[-1][0]
        # The sample nearest to the end of the first fifth of the run.
        fifth = min(samples, key=lambda sample: abs(sample[0] - lasted / 5))
        peak = max(rss for _, rss in samples)
        self.record("B7", f"soak, {lasted / 60:.1f} min: offered rate", round(sent["rate"]),
                    "events/s", "", f"asked for {rate:,}/s")
        self.record("B7", "soak: acknowledged by the broker", acked, "events")
        self.record("B7", "soak: engine lost of acknowledged", acked - counted, "events", "0",
                    f"{counted} counted")
        self.record("B7", "soak: dropped by the broker (its $SYS count)",
                    "unread" if dropped is None else dropped, "messages", "",
                    "a full client queue: max_queued_messages, docs/operations.md")
        total = commits[-1][1] if commits else 0
        within = dict(commits).get(0.1, 0)
        self.record("B7", "soak: journal commits slower than 100 ms", total - within, "commits",
                    "", f"of {total}; " + " ".join(f"<={b:g}s:{n}" for b, n in commits if b >= 0.1))
        self.record("B7", "soak: analytics snapshots written, longest", max(snapshots, default=0),
                    "ms", "", f"{len(snapshots)} written; all: {' '.join(map(str, snapshots))}")
        self.record("B7", "soak: engine RSS, highest sample", round(peak), "MB", "<= 512",
                    f"{len(samples)} samples")
        self.record("B7", f"soak: RSS at the end of the first fifth ({fifth[0]:.0f} s)",
                    round(fifth[1]), "MB")
        self.record("B7", "soak: RSS at the end", round(samples[-1][1]), "MB")
        self.record("B7", "soak: RSS at the end / at the first fifth",
                    round(samples[-1][1] / max(fifth[1], 1), 3), "x", "~1 (flat)")
        # The curve, one sample per tenth of the run, so "flat" can be read and not only the ends.
        tenths = [min(samples, key=lambda s, k=k: abs(s[0] - lasted * k / 10)) for k in range(1, 11)]
        self.record("B7", "soak: RSS at each tenth of the run", " ".join(
            f"{rss:.0f}" for _, rss in tenths), "MB")

    # B1a: drain a queued backlog, engine against a bare subscriber on the same queue.
    def b1a(self, events):
        broker = Broker(self.work, unlimited=True)
        root = "b1a"
        try:
            data = os.path.join(self.work, f"b1a-{events}")
            # Both persistent sessions exist before the backlog is published.
            subprocess.run(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-c",
                 "-i", "bench-bare", "-t", f"{root}/#", "-E"], check=True)
            engine = Engine(self.ioc, broker.url(), data, root, client_id="bench-engine")
            engine.wait_ready()
            engine.stop()
            sent = self.sim(broker.url(), root, events, rate=1_000_000)
            queued = sent["sent"] - sent["unacknowledged"]

            began = time.time()
            subprocess.run(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-c",
                 "-i", "bench-bare", "-t", f"{root}/#", "-C", str(queued)],
                stdout=subprocess.DEVNULL, check=True, timeout=3600)
            bare = queued / (time.time() - began)

            engine = Engine(self.ioc, broker.url(), data, root, client_id="bench-engine")
            samples = [(engine.started, 0.0)]
            while True:
                count = engine.events()
                now = time.time()
                if count is not None:
                    samples.append((now, count))
                    if count >= queued:
                        break
                if engine.process.poll() is not None:
                    raise RuntimeError("engine exited during the drain")
                if now - engine.started > 3600:
                    raise RuntimeError("drain did not finish within an hour")
                time.sleep(0.1)
            rss = rss_mb(engine.process.pid)
            engine.stop()
        finally:
            broker.stop()
        total = samples[-1][0] - samples[0][0]
        rate = queued / total
        # Longest time without progress while events were still queued.
        stall = max((b[0] - a[0] for a, b in zip(samples, samples[1:]) if b[1] == a[1]), default=0)
        million = min(1_000_000, queued // 3)

        def time_at(count):
            return next(t for t, c in samples if c >= count)

        # The counter is sampled every 0.1 s: a span shorter than that (a small, fast drain)
        # is measured as one sample period.
        first = million / max(time_at(million) - samples[0][0], 0.1)
        last = million / max(samples[-1][0] - time_at(queued - million), 0.1)
        self.record("B1a", "messages queued", queued, "msgs")
        self.record("B1a", f"bare subscriber drain of {queued:,} queued QoS 1", round(bare), "msg/s")
        self.record("B1a", f"engine drain of {queued:,} queued QoS 1 (from launch)", round(rate),
                    "events/s")
        self.record("B1a", "engine / bare subscriber", round(rate / bare, 3), "x", ">= 0.6")
        self.record("B1a", f"first {million:,} vs last {million:,}", round(last / first, 3), "x",
                    ">= 0.9", f"{first:.0f}/s then {last:.0f}/s")
        self.record("B1a", "longest stall while draining", round(stall, 2), "s", "< 1")
        self.record("B1a", "engine RSS after the drain", round(rss), "MB")

    # B3 + B8: journal group commit alone, then restart on that journal.
    def b3_b8(self, events):
        data = os.path.join(self.work, "b3")
        out = subprocess.run(
            [self.example("journal_bench"), str(events), "2048", data],
            capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        self.record("B3", f"journal group commit, {events:,} events, 4 writers",
                    round(result["events_per_sec"]), "events/s", ">= 300000")
        self.record("B3", "journal bytes per event", result["bytes_per_event"], "B", "<= 120")
        broker = Broker(self.work, unlimited=False)
        try:
            # First start: no snapshot yet, the whole journal is replayed.
            engine = Engine(self.ioc, broker.url(), data, "b8")
            ready = engine.wait_ready()
            counted = engine.events()
            rss = rss_mb(engine.process.pid)
            # A clean stop writes the analytics snapshot; the next start replays nothing.
            began = time.time()
            engine.stop()
            stopped = time.time() - began
            snapshot = os.path.getsize(os.path.join(data, "analytics.snapshot"))
            engine = Engine(self.ioc, broker.url(), data, "b8")
            again = engine.wait_ready()
            restored = engine.events()
            replayed = metric(engine.port, "ioc_start_replayed_events")
            engine.stop()
        finally:
            broker.stop()
        self.record("B8", f"first start with {events:,} journaled events (full replay): ready after",
                    round(ready, 2), "s")
        self.record("B8", "replay rate", round(counted / ready), "events/s", ">= 1000000",
                    f"counted {counted:.0f}")
        self.record("B8", "replayed events", counted, "events")
        self.record("B8", "RSS after replay", round(rss), "MB")
        self.record("B8", "clean stop, snapshot written: took", round(stopped, 2), "s")
        self.record("B8", "snapshot size", round(snapshot / 1e6, 1), "MB")
        self.record("B8", f"restart with {events:,} journaled events and their snapshot: ready after",
                    round(again, 2), "s", "<= 10 s at 10M",
                    f"counted {restored:.0f}, replayed {replayed:.0f}")
        self.record("B8", "events counted after the snapshot restart", restored, "events")

    # B2: decode, validate and aggregate in process, one core, no network, no journal.
    def b2(self, events):
        out = subprocess.run([self.example("pipeline_bench"), str(events)],
                             capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        self.record("B2", f"decode+validate+aggregate on one core, {events:,} events",
                    round(result["events_per_sec"]), "events/s", ">= 1000000",
                    f"decode is {result['decode_share'] * 100:.0f}% of the time")
        self.record("B2", "events counted", result["counted"], "events")

    # B11: CPU at a low, steady rate.
    def b11(self, seconds):
        broker = Broker(self.work, unlimited=False)
        try:
            data = os.path.join(self.work, "b11")
            engine = Engine(self.ioc, broker.url(), data, "b11")
            engine.wait_ready()
            sim = subprocess.Popen(
                [self.ioc, "sim", "--mqtt", broker.url(), "--topic-root", "b11", "--rate", "1000",
                 "--duration", f"{seconds + 10}s", "--qos", "1", "--quiet"],
                stdout=subprocess.DEVNULL)
            time.sleep(5)
            cpu0, t0, n0 = cpu_seconds(engine.process.pid), time.time(), engine.events()
            time.sleep(seconds)
            cpu1, t1, n1 = cpu_seconds(engine.process.pid), time.time(), engine.events()
            sim.wait()
            idle0 = cpu_seconds(engine.process.pid)
            time.sleep(min(seconds, 10))
            idle = (cpu_seconds(engine.process.pid) - idle0) / min(seconds, 10)
            engine.stop()
        finally:
            broker.stop()
        cores = (cpu1 - cpu0) / (t1 - t0)
        per_event = (cpu1 - cpu0) / max(n1 - n0, 1) * 1e6
        self.record("B11", "engine CPU at 1,000 events/s", round(cores, 3), "cores", "<= 0.05")
        self.record("B11", "CPU per event at 1,000 events/s", round(per_event, 1), "us", "<= 50")
        self.record("B11", "engine CPU idle", round(idle, 4), "cores")

    def run(self):
        wanted = set(self.args.only.split(",")) if self.args.only else None
        smoke = self.args.smoke

        def on(name):
            return wanted is None or name in wanted

        print(f"machine: {os.cpu_count()} cores; binaries: {self.bin_dir}", flush=True)
        # What was measured is written, and the scratch data (B7's journal can be gigabytes)
        # removed, even when a benchmark fails or the run is interrupted.
        try:
            self.benchmarks(on, smoke)
        finally:
            report = {"machine": {"cores": os.cpu_count(), "uname": os.uname().release},
                      "smoke": smoke, "results": self.results}
            with open(self.args.json, "w") as f:
                json.dump(report, f, indent=1)
            print(f"results written to {self.args.json}")
            shutil.rmtree(self.work, ignore_errors=True)

    def benchmarks(self, on, smoke):
        if on("b1a"):
            for n in ([20_000] if smoke else self.args.drain_events):
                self.b1a(n)
        if on("b1b"):
            self.b1b(3 if smoke else 10, [2_000] if smoke else self.args.live_rates)
        if on("b4"):
            self.b4(500 if smoke else self.args.alert_load, 20 if smoke else 200)
        if on("b2"):
            self.b2(20_000 if smoke else 1_000_000)
        if on("b3") or on("b8"):
            self.b3_b8(20_000 if smoke else self.args.events)
        if on("b11"):
            self.b11(10 if smoke else 60)
        if on("b6"):
            self.b6(50 if smoke else self.args.ws_clients, 3 if smoke else self.args.ws_seconds,
                    500 if smoke else self.args.ws_load)
        if on("b10"):
            self.b10(300 if smoke else self.args.open311_posts,
                     20 if smoke else self.args.open311_clients)
        if on("b7"):
            # Last: it is the long one. 80 % of B1b's best when B1b ran, unless a rate is given.
            if smoke:
                rate = 1_000
            elif self.args.soak_rate:
                rate = self.args.soak_rate
            elif self.best_live_rate:
                rate = round(0.8 * self.best_live_rate)
            else:
                rate = 32_000
            seconds = 15 if smoke else round(self.args.soak_minutes * 60)
            self.b7(seconds, rate, every=3 if smoke else 10)


def main():
    # SIGTERM unwinds like Ctrl-C, so each benchmark stops what it started and the results
    # measured so far are written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="small volumes, a minute and a half")
    parser.add_argument("--release", action="store_true", help="use the release binaries")
    parser.add_argument("--only", help="comma list of b1a,b1b,b2,b3,b4,b6,b7,b8,b10,b11")
    parser.add_argument("--alert-load", type=int, default=20_000,
                        help="events/s of simulated load during B4 (half of B1b's best)")
    parser.add_argument("--live-rates", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10_000, 20_000, 30_000, 40_000],
                        help="offered rates for B1b, events/s")
    parser.add_argument("--events", type=int, default=10_000_000, help="journal size for B3/B8")
    parser.add_argument("--drain-events", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1_000_000, 3_000_000], help="backlog sizes for B1a")
    parser.add_argument("--ws-clients", type=int, default=5_000,
                        help="websocket clients subscribed to the overview in B6")
    parser.add_argument("--ws-seconds", type=int, default=60, help="B6's measured interval")
    parser.add_argument("--ws-load", type=int, default=1_000,
                        help="events/s the simulator feeds the engine during B6")
    parser.add_argument("--open311-posts", type=int, default=10_000, help="POSTs in B10")
    parser.add_argument("--open311-clients", type=int, default=200,
                        help="concurrent Open311 clients in B10")
    parser.add_argument("--soak-minutes", type=float, default=30, help="B7's length")
    parser.add_argument("--soak-rate", type=int,
                        help="B7's rate, events/s (default 80 %% of B1b's best when B1b runs, "
                             "else 32,000: the simulator tops out near 40k/s on 2 cores)")
    parser.add_argument("--json", default="bench-results.json")
    Harness(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
