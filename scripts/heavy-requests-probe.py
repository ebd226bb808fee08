"""Another tenant's webhook latency while many tenants send heavy API requests (docs/PERFORMANCE.md,
"Many tenants' heavy requests at once").

Start a server with an admin key, then:
  BW_ADMIN_KEY=<admin key> python3 scripts/heavy-requests-probe.py http://127.0.0.1:5098 [tenants] [requests per tenant] [events per tenant]
It creates the tenants, imports their events, measures one more tenant's webhooks (one every 10 ms) alone and
then for 15 s while every tenant sends its heavy requests without pause, and prints both and the heavy
requests' rate. Standard library only.
"""
import os, json, time, hmac, hashlib, threading, urllib.request, sys, random, statistics
BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5098"
ADMIN = os.environ["BW_ADMIN_KEY"]
HOGS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
PER_HOG = int(sys.argv[3]) if len(sys.argv) > 3 else 2
EVENTS = int(sys.argv[4]) if len(sys.argv) > 4 else 30000
SECRET = "whsec_probe_secret_0123456789"
def req(method, path, key=None, body=None, ctype="application/json", headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    r = urllib.request.Request(BASE + path, data=data, method=method)
    if key: r.add_header("Authorization", "Bearer " + key)
    if data is not None: r.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items(): r.add_header(k, v)
    try:
        with urllib.request.urlopen(r, timeout=120) as resp: return resp.status, resp.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def event(i, now, cust):
    return {"id": f"evt_{i:010d}_{random.randrange(1<<30)}", "object": "event", "type": "charge.succeeded", "created": now - random.randrange(86400*20),
            "livemode": False, "api_version": "2024-06-20",
            "data": {"object": {"id": f"ch_{i}", "object": "charge", "amount": random.randrange(100, 100000), "currency": "usd",
                     "customer": cust, "status": "succeeded", "paid": True, "metadata": {"a": "b" * 40}, "description": "x" * 300}}}
def tenant(name):
    s, b = req("POST", "/api/v1/tenants", ADMIN, {"name": name, "webhookSecret": SECRET})
    assert s == 201, (s, b); return json.loads(b)
now = int(time.time())
victim = tenant("victim")
hogs = [tenant(f"hog{i}") for i in range(HOGS)]
def load(h):
    lines = "\n".join(json.dumps(event(i, now, f"cus_{i%500}")) for i in range(EVENTS)).encode()
    s, b = req("POST", "/api/v1/events/import", h["apiKey"], lines, "application/x-ndjson"); assert s == 200, (s, b[:300])
t0 = time.time()
ts = [threading.Thread(target=load, args=(h,)) for h in hogs]; [t.start() for t in ts]; [t.join() for t in ts]
print(f"loaded {HOGS}x{EVENTS} in {time.time()-t0:.1f}s", flush=True)
def send(n, seconds=None):
    lat = []; end = time.time() + (seconds or 1e9)
    for i in range(n):
        if time.time() > end: break
        body = json.dumps(event(10**8 + random.randrange(10**9), int(time.time()), "cus_v")).encode()
        t = int(time.time()); sig = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        time.sleep(0.01); a = time.perf_counter(); s, _ = req("POST", "/webhook/" + victim["webhookToken"], body=body, headers={"Stripe-Signature": f"t={t},v1={sig}"})
        lat.append((time.perf_counter() - a) * 1000); assert s == 200, s
    return lat
def report(name, lat):
    lat = sorted(lat); print(f"{name}: n={len(lat)} p50={lat[len(lat)//2]:.1f} p99={lat[int(len(lat)*.99)]:.1f} max={lat[-1]:.1f} ms", flush=True)
report("victim alone", send(200))
stop = False; heavy = {"ok": 0, "429": 0, "lat": []}
def hog(h):
    paths = ["/api/v1/events?customer=cus_7&limit=100", "/api/v1/metrics", "/api/v1/events?minAmount=99000&limit=100", "/api/v1/anomalies.csv"]
    while not stop:
        a = time.perf_counter(); s, _ = req("GET", random.choice(paths), h["apiKey"])
        heavy["lat"].append((time.perf_counter()-a)*1000)
        if s == 200: heavy["ok"] += 1
        elif s == 429: heavy["429"] += 1; time.sleep(1)
        else: print("hog", s, flush=True)
hs = [threading.Thread(target=hog, args=(h,)) for h in hogs for _ in range(PER_HOG)]; [t.start() for t in hs]
time.sleep(2)
t1 = time.time(); report("victim under hogs", send(10**9, 15)); span = time.time() - t1 + 2
stop = True; [t.join() for t in hs]
print("heavy %.0f/s" % (heavy["ok"] / span), heavy["ok"], "ok", heavy["429"], "429", "p50 %.0f max %.0f ms" % (statistics.median(heavy["lat"]), max(heavy["lat"])))
