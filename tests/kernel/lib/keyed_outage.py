"""KME outage per key-source mode over kernel ESP (tests/kernel/cases/61-*).

    keyed_outage.py ADMIN_URL RESULT_JSON GROUP...      GROUP = name:mode:action:nodes:http_url

Runs in netns b next to the KME pair and the xApps (one xApp per group, each
with its own freshness policy). Phases, each bounded by a deadline (the
status endpoints are polled; nothing sleeps for a fixed time):

 1. bootstrap: every link of every group protected on hybrid keys, epoch > 1,
    no alarm active;
 2. outage: the KME's quantum link goes down and its key pool is drained
    (POST /admin/link/down, /admin/drain); each group must reach the state
    its mode and on-violation action demand:
      either, at-least-pqc (rekey)  protected, ML-KEM-only keys, rekeyed during the outage
      qkd-and-pqc + degrade          degraded (ML-KEM only, mode at-least-pqc), alarms
      at-least-qkd + rekey           protected on the old hybrid key; key-age,
                                     rekey-failing and source-unavailable alarms
      qkd-and-pqc + isolate          isolated, alarms
    and then hold there while the outage lasts (HOLD_S, degraded/ML-KEM
    links keep rotating, the at-least-qkd key does not change);
    the script then writes RESULT_JSON with "phase": "outage" and waits for
    the file RESULT_JSON.go (the case checks the kernel state meanwhile);
 3. restore: POST /admin/link/up; every link back to protected/hybrid on a
    new epoch and every alarm cleared.

Invariant checked at every poll: a link that has an SA has keys of a known
source (never "protected" without keys), and after bootstrap no link of a
non-isolating group is unprotected.
"""
import json
import os
import sys
import time
import urllib.request

POLL = 0.2
HOLD_S = 4.0


def post(url):
    req = urllib.request.Request(url, data=b"", method="POST")
    return json.load(urllib.request.urlopen(req, timeout=5))


def status(url):
    return json.load(urllib.request.urlopen(f"{url}/status", timeout=5))


def active(s, node, kind):
    return any(a["node"] == node and a["kind"] == kind and a.get("clearedAt") is None for a in s["alarms"])


class Group:
    def __init__(self, spec):
        self.name, self.mode, self.action, nodes, self.url = spec.split(":", 4)
        self.nodes = int(nodes)
        self.bootstrapped = False
        self.outage_epochs = {}
        self.held_epochs = {}

    def invariant(self, s, phase):
        for l in s["links"]:
            has_sa = l["state"] in ("protected", "degraded")
            if has_sa and (l["keySource"] is None or l["epoch"] == 0):
                raise AssertionError(f"{self.name}/{l['node']}: {l['state']} without keys")
            if phase != "bootstrap" and self.action != "isolate" and l["state"] == "unprotected":
                raise AssertionError(f"{self.name}/{l['node']}: unprotected after bootstrap")
            if phase == "outage" and self.action == "isolate" and l["state"] == "unprotected":
                raise AssertionError(f"{self.name}/{l['node']}: unprotected during the outage (isolate fails closed)")

    def protected_hybrid(self, s, above):
        return len(s["links"]) == self.nodes and not [a for a in s["alarms"] if a.get("clearedAt") is None] and all(
            l["state"] == "protected" and l["keySource"] == "hybrid" and l["keyId"] and l["epoch"] > above.get(l["node"], 1)
            for l in s["links"]
        )

    def outage_reached(self, s):
        if len(s["links"]) != self.nodes:
            return False
        ok = []
        for l in s["links"]:
            n = l["node"]
            if self.mode in ("either", "at-least-pqc"):
                if l["state"] != "protected":
                    raise AssertionError(f"{self.name}/{n}: {l['state']} ({self.mode} is satisfied by ML-KEM alone)")
                ok.append(l["keySource"] == "pqc" and l["keyId"] is None and l["epoch"] > self.outage_epochs[n]
                          and not active(s, n, "source-unavailable") and active(s, n, "kme-stock-low"))
            elif self.action == "degrade":
                if l["state"] in ("unprotected", "isolated"):
                    raise AssertionError(f"{self.name}/{n}: {l['state']} (degrade keeps the link keyed)")
                ok.append(l["state"] == "degraded" and l["keySource"] == "pqc" and l["mode"] == "at-least-pqc"
                          and active(s, n, "link-degraded") and active(s, n, "source-unavailable"))
            elif self.action == "isolate":
                if l["state"] == "protected" and l["keySource"] != "hybrid":
                    raise AssertionError(f"{self.name}/{n}: protected on {l['keySource']} keys in qkd-and-pqc")
                ok.append(l["state"] == "isolated" and active(s, n, "link-isolated") and active(s, n, "source-unavailable"))
            else:  # at-least-qkd + rekey: the last good key stays
                # (keys still in the xApp's prefetch buffer may serve a rekey
                # or two after the KME went dry: hybrid all the same)
                if l["state"] != "protected" or l["keySource"] != "hybrid":
                    raise AssertionError(f"{self.name}/{n}: {l['state']} on {l['keySource']} keys "
                                         "(rekey mode keeps the last good key)")
                if self.held_epochs and l["epoch"] != self.held_epochs[n]:
                    raise AssertionError(f"{self.name}/{n}: key changed while QKD is away: "
                                         f"epoch {self.held_epochs[n]} -> {l['epoch']}")
                ok.append(l["consecutiveFailures"] >= 3 and active(s, n, "key-age") and active(s, n, "rekey-failing")
                          and active(s, n, "source-unavailable"))
        return all(ok)

    def still_held(self, s):
        """The outage state holds; ML-KEM links keep rotating, the at-least-qkd key does not change."""
        if not self.outage_reached(s):
            raise AssertionError(f"{self.name}: left its outage state while the KME is still down")
        rotating = self.mode in ("either", "at-least-pqc") or self.action == "degrade"
        if not rotating:
            return True
        return all(l["epoch"] > self.held_epochs[l["node"]] for l in s["links"])


def wait(groups, phase, deadline_s, done):
    deadline = time.time() + deadline_s
    last = {}
    while True:
        results = []
        for g in groups:
            try:
                s = status(g.url)
            except OSError as e:  # not listening yet (start-up); the deadline bounds it
                last.setdefault(g.name, {"links": [], "alarms": [], "error": str(e)})
                results.append(False)
                continue
            last[g.name] = s
            g.invariant(s, phase)
            results.append(done(g, s))
        if all(results):
            return last
        if time.time() > deadline:
            for g in groups:
                brief = [(l["node"], l["state"], l["keySource"], l["epoch"]) for l in last[g.name]["links"]]
                alarms = [(a["node"], a["kind"]) for a in last[g.name]["alarms"] if a.get("clearedAt") is None]
                print(f"[outage] {g.name}: {brief} alarms {alarms}")
            raise AssertionError(f"{phase}: not reached within {deadline_s} s")
        time.sleep(POLL)


def main():
    admin, result = sys.argv[1], sys.argv[2]
    groups = [Group(spec) for spec in sys.argv[3:]]
    t0 = time.time()
    last = wait(groups, "bootstrap", 60, lambda g, s: g.protected_hybrid(s, {}))
    for g in groups:
        g.outage_epochs = {l["node"]: l["epoch"] for l in last[g.name]["links"]}
    print(f"[outage] bootstrap: every link protected/hybrid after {time.time() - t0:.1f} s", flush=True)

    down = post(f"{admin}/admin/link/down")
    assert down["faults"]["link_down"] is True, down
    drained = post(f"{admin}/admin/drain")
    assert drained["pool"]["stored_key_count"] == 0, drained
    t_down = time.time()
    last = wait(groups, "outage", 45, lambda g, s: g.outage_reached(s))
    reached = time.time() - t_down
    for g in groups:
        g.held_epochs = {l["node"]: l["epoch"] for l in last[g.name]["links"]}
        brief = [(l["node"], l["state"], l["keySource"], l["epoch"]) for l in last[g.name]["links"]]
        print(f"[outage] {g.name} ({g.mode}, {g.action}): {brief}", flush=True)
    print(f"[outage] every group in its outage state {reached:.1f} s after the KME went down", flush=True)
    hold_until = time.time() + HOLD_S
    wait(groups, "outage", 45, lambda g, s: g.still_held(s) and time.time() >= hold_until)
    print(f"[outage] outage states held {HOLD_S:.0f} s; ML-KEM links kept rotating, the at-least-qkd key stayed",
          flush=True)

    with open(result + ".tmp", "w") as f:
        json.dump({"phase": "outage", "reached_s": reached}, f)
    os.rename(result + ".tmp", result)
    go = result + ".go"
    deadline = time.time() + 60
    while not os.path.exists(go):
        if time.time() > deadline:
            raise AssertionError("the case did not let the restore phase start")
        # the states must hold while the case looks at the kernel
        for g in groups:
            g.invariant(status(g.url), "outage")
        time.sleep(POLL)

    up = post(f"{admin}/admin/link/up")
    assert up["faults"]["link_down"] is False, up
    t_up = time.time()
    last = wait(groups, "restore", 90, lambda g, s: g.protected_hybrid(s, g.held_epochs))
    back = time.time() - t_up
    for g in groups:
        brief = [(l["node"], l["state"], l["keySource"], l["epoch"]) for l in last[g.name]["links"]]
        print(f"[outage] {g.name} restored: {brief}", flush=True)
    print(f"[outage] every link back to protected/hybrid {back:.1f} s after the KME came back", flush=True)
    with open(result + ".tmp", "w") as f:
        json.dump({"phase": "restored", "reached_s": reached, "restored_s": back}, f)
    os.rename(result + ".tmp", result)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
